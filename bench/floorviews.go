package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
)

// FloorViews is the floor's view store in views mode: the least any server
// must do to answer a view only once it is durable. Each view is one row
// of bench.floor_views, keyed by (ext_id, case_id) so that a repeated
// report is stored once; concurrent views share a commit (group commit,
// with two groups in flight, as the bridge's views), and a view is
// answered 204 only after its group has committed. It looks up no win,
// decides no price and enqueues no notice: the bridge's views do all
// three, so the ratio says what they cost on top of durability itself.
type FloorViews struct {
	pool  *pgxpool.Pool
	queue chan *floorView
	quit  chan struct{}
}

type floorView struct {
	extID, caseID string
	done          chan error // buffered: the committer never waits for the handler
}

// floorViewCommitters and floorViewBatch mirror the bridge's view group
// commit (viewCommitters, events.batch_size's order of magnitude).
const (
	floorViewCommitters = 2
	floorViewBatch      = 1024
)

const floorViewsDDL = `CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.floor_views (
	ext_id text NOT NULL,
	case_id text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ext_id, case_id))`

const floorViewsInsert = `INSERT INTO bench.floor_views (ext_id, case_id)
	SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`

// CountFloorViewsSQL counts what the durable floor stored (the run's check
// that it answered no view it had not stored).
const CountFloorViewsSQL = `SELECT count(*) FROM bench.floor_views`

// OpenFloorViews connects to the database at url, creates the floor's
// table if needed and starts the committers; Close stops them.
func OpenFloorViews(ctx context.Context, url string) (*FloorViews, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("bench: floor views: %w", err)
	}
	if _, err := pool.Exec(ctx, floorViewsDDL); err != nil {
		pool.Close()
		return nil, fmt.Errorf("bench: floor views: %w", err)
	}
	f := &FloorViews{pool: pool, queue: make(chan *floorView, 4*floorViewBatch), quit: make(chan struct{})}
	for range floorViewCommitters {
		go f.commit()
	}
	return f, nil
}

// Close stops the committers and closes the pool. A view not yet queued
// gets errFloorClosed; one already queued waits until its request ends
// (the proxy closes its server first).
func (f *FloorViews) Close() {
	close(f.quit)
	f.pool.Close()
}

var errFloorClosed = errors.New("floor views closed")

// store queues one view and waits for its group's commit.
func (f *FloorViews) store(ctx context.Context, extID, caseID string) error {
	v := &floorView{extID: extID, caseID: caseID, done: make(chan error, 1)}
	select {
	case f.queue <- v:
	case <-f.quit:
		return errFloorClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-v.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commit takes whatever views are queued (waiting for the first), stores
// them in one statement, one commit, and answers each.
func (f *FloorViews) commit() {
	ext, cid := make([]string, 0, floorViewBatch), make([]string, 0, floorViewBatch)
	group := make([]*floorView, 0, floorViewBatch)
	for {
		select {
		case v := <-f.queue:
			group = append(group[:0], v)
		case <-f.quit:
			return
		}
	drain:
		for len(group) < floorViewBatch {
			select {
			case v := <-f.queue:
				group = append(group, v)
			default:
				break drain
			}
		}
		ext, cid = ext[:0], cid[:0]
		for _, v := range group {
			ext, cid = append(ext, v.extID), append(cid, v.caseID)
		}
		_, err := f.pool.Exec(context.Background(), floorViewsInsert, ext, cid)
		for _, v := range group {
			v.done <- err
		}
	}
}

// serveView answers a view 204 once it is stored, 400 without extid or
// cid, 503 if the database did not store it.
func (f *FloorViews) serveView(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ext, cid := q.Get("extid"), q.Get("cid")
	if ext == "" || cid == "" {
		http.Error(w, "extid and cid are required", http.StatusBadRequest)
		return
	}
	if err := f.store(r.Context(), ext, cid); err != nil {
		http.Error(w, "not stored: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
