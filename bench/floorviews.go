package bench

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/adshares/dsp-bridge/internal/groupcommit"
)

// FloorViews is the floor's view store in views mode: the least any server
// must do to answer a view only once it is durable. Each view is one row
// of bench.floor_views, keyed by (ext_id, case_id) so that a repeated
// report is stored once; concurrent views share a commit (the bridge's
// own group commit, package groupcommit, with two groups in flight as the
// bridge's views have), and a view is
// answered 204 only after its group has committed. It looks up no win,
// decides no price and enqueues no notice: the bridge's views do all
// three, so the ratio says what they cost on top of durability itself.
type FloorViews struct {
	pool  *pgxpool.Pool
	views *groupcommit.Batcher[floorView, struct{}]
}

// floorView is one view's key.
type floorView struct{ extID, caseID string }

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
	f := &FloorViews{pool: pool}
	f.views = groupcommit.New(floorViewBatch, 4*floorViewBatch, floorViewCommitters, f.commit)
	return f, nil
}

// Close commits the views still queued, stops the committers and closes
// the pool; a view stored after it gets groupcommit.ErrClosed.
func (f *FloorViews) Close() {
	f.views.Close()
	f.pool.Close()
}

// store queues one view and waits for its group's commit.
func (f *FloorViews) store(ctx context.Context, extID, caseID string) error {
	_, err := f.views.Do(ctx, floorView{extID: extID, caseID: caseID})
	return err
}

// commit stores a group of views in one statement, one commit, and gives
// every view its outcome.
func (f *FloorViews) commit(calls []*groupcommit.Call[floorView, struct{}]) {
	ext, cid := make([]string, len(calls)), make([]string, len(calls))
	for i, c := range calls {
		ext[i], cid[i] = c.In.extID, c.In.caseID
	}
	_, err := f.pool.Exec(context.Background(), floorViewsInsert, ext, cid)
	for _, c := range calls {
		c.Err = err
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
