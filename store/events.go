package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is one view or click the AdServer reported.
type Event struct {
	ExtID        string
	CaseID       string // normalised cid: 32 lowercase hex
	Type         string // "view" or "click"
	ImpressionID string
	ZoneID       string
	PublisherID  string
	PriceMicros  int64 // the win's price (micro-USD CPM), copied
	RateNanos    int64 // nano-USD per ADS used for Value
	Value        int64 // ADS clicks this view is worth if it is the billed one
	CreatedAt    time.Time
	// EnqueuedAt is when a view's notice enters the outbox (zero: CreatedAt).
	// It differs for views replayed from the spool: outbox.max_age counts
	// from here, so a long outage does not expire notices never tried.
	EnqueuedAt time.Time
}

// Recorded is what RecordView or RecordClick did.
type Recorded struct {
	EventID  int64 // 0 when the event was already recorded
	Billed   bool  // this view is the billed one of its ext_id
	NoticeID int64 // the burl notice enqueued with it, or 0
	// Impressions is how many impression notices (markup pixels, VAST
	// Impression URLs) were enqueued with it.
	Impressions int
}

// eventLockClass is the first key of the per-ext_id advisory lock that
// serialises views of one win (two-key locks never collide with the
// single-key migration lock).
const eventLockClass = 4

// recordViewSQL inserts a view and, if it is the first view of its ext_id,
// bills it and enqueues its burl, all in one statement. It runs right after
// the ext_id's advisory lock in the same implicit transaction, so its
// snapshot sees every view of that ext_id committed before it.
const recordViewSQL = `WITH prior AS (
	SELECT EXISTS (SELECT 1 FROM events WHERE ext_id = $1 AND type = 'view') AS seen
), ev AS (
	INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id,
		price_micros, rate_nanos, value, created_at)
	SELECT $1, $2, 'view', $3, $4, $5, $6, $7, CASE WHEN prior.seen THEN 0 ELSE $8::bigint END, $9
	FROM prior
	ON CONFLICT DO NOTHING
	RETURNING id
), ob AS (
	INSERT INTO outbox (ext_id, event_id, dsp, kind, url, created_at, next_attempt_at)
	SELECT $1, ev.id, $10, 'burl', $11, $12, $12 FROM ev, prior
	WHERE NOT prior.seen AND $11 <> ''
	ON CONFLICT (ext_id, kind, seq) DO NOTHING
	RETURNING id
), imp AS (
	INSERT INTO outbox (ext_id, event_id, dsp, kind, url, seq, created_at, next_attempt_at)
	SELECT $1, ev.id, $10, 'imp', u.url, u.n, $12, $12
	FROM ev, prior, unnest($13::text[]) WITH ORDINALITY AS u(url, n)
	WHERE NOT prior.seen
	ON CONFLICT (ext_id, kind, seq) DO NOTHING
	RETURNING id
)
SELECT coalesce((SELECT id FROM ev), 0),
	(SELECT id FROM ev) IS NOT NULL AND NOT (SELECT seen FROM prior),
	coalesce((SELECT id FROM ob), 0),
	(SELECT count(*) FROM imp)::int`

// RecordView stores a view idempotently and commits before returning. Only
// the first view of an ext_id is billed (value ev.Value, burl and the
// impression notices enqueued for dsp in the same transaction); a view of
// the same ext_id with another case id is stored with value 0; the same
// (ext_id, case_id) again changes nothing. burl is the notice URL with its
// macros already expanded ("" for none); impressions are the markup's pixel
// URLs, expanded, enqueued as kind imp with seq 1..n.
func (s *Store) RecordView(ctx context.Context, ev Event, dsp, burl string, impressions ...string) (Recorded, error) {
	// One round trip, one implicit transaction: the lock, then the insert.
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, eventLockClass, ev.ExtID)
	enqueued := ev.EnqueuedAt
	if enqueued.IsZero() {
		enqueued = ev.CreatedAt
	}
	batch.Queue(recordViewSQL, ev.ExtID, ev.CaseID, ev.ImpressionID, ev.ZoneID, ev.PublisherID,
		ev.PriceMicros, ev.RateNanos, ev.Value, ev.CreatedAt, dsp, burl, enqueued, append([]string{}, impressions...))
	br := s.Pool.SendBatch(ctx, batch)
	var out Recorded
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&out.EventID, &out.Billed, &out.NoticeID, &out.Impressions)
	}
	// Close reads the commit's answer: only after it is the view durable.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Recorded{}, fmt.Errorf("store: record view: %w", err)
	}
	return out, nil
}

// RecordClick stores a click idempotently (value 0) and commits before
// returning.
func (s *Store) RecordClick(ctx context.Context, ev Event) (Recorded, error) {
	var out Recorded
	err := s.Pool.QueryRow(ctx, `WITH ev AS (
		INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id, price_micros, rate_nanos, created_at)
		VALUES ($1, $2, 'click', $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING RETURNING id)
		SELECT coalesce((SELECT id FROM ev), 0)`,
		ev.ExtID, ev.CaseID, ev.ImpressionID, ev.ZoneID, ev.PublisherID, ev.PriceMicros, ev.RateNanos, ev.CreatedAt,
	).Scan(&out.EventID)
	if err != nil {
		return Recorded{}, fmt.Errorf("store: record click: %w", err)
	}
	return out, nil
}

// EventsOf returns the events of an ext_id, oldest first (operator tools, tests).
func (s *Store) EventsOf(ctx context.Context, extID string) ([]Event, error) {
	rows, err := s.Pool.Query(ctx, `SELECT ext_id, case_id, type, impression_id, zone_id, publisher_id,
		price_micros, rate_nanos, value, created_at FROM events WHERE ext_id = $1 ORDER BY id`, extID)
	if err != nil {
		return nil, fmt.Errorf("store: events of %s: %w", extID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ExtID, &e.CaseID, &e.Type, &e.ImpressionID, &e.ZoneID, &e.PublisherID,
			&e.PriceMicros, &e.RateNanos, &e.Value, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of %s: %w", extID, err)
	}
	return out, nil
}
