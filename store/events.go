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
	DSP          string // the win's DSP, copied (the win is dropped long before its events)
	PriceMicros  int64  // the win's price (micro-USD CPM), copied
	RateNanos    int64  // nano-USD per ADS used for Value
	FeePPM       int64  // the operator's fee (parts per million) used for Value
	Value        int64  // ADS clicks this view is worth if it is the billed one
	// The win's bid adjustment (ppm), and its price as the DSP sent it in
	// its own currency, copied for the operator's books (migration 008).
	BidAdjustmentPPM      int64
	BidPrice, BidCurrency string
	CreatedAt             time.Time
	// EnqueuedAt is when a view's notice enters the outbox (zero: CreatedAt).
	// It differs for views replayed from the spool: outbox.max_age counts
	// from here, so a long outage does not expire notices never tried.
	EnqueuedAt time.Time
	// WinAt is the win's created_at. Every event of a win is recorded at or
	// after it (give or take the clocks), so the look-up of the win's
	// earlier events skips older partitions. Zero looks everywhere.
	WinAt time.Time
	// Late marks a view after its win's view deadline (events.max_view_age):
	// stored with value 0 and reason "late", no burl.
	Late bool
	// UnbilledReason is why a stored view is not billed: "" (billed, or a
	// click), "repeat" (not the win's first view) or "late" (EventsOf).
	UnbilledReason string
}

// Reasons a view is stored but not billed (events.unbilled_reason).
const (
	UnbilledRepeat = "repeat"
	UnbilledLate   = "late"
)

// Recorded is what RecordView or RecordClick did.
type Recorded struct {
	EventID  int64  // 0 when the event was already recorded
	Billed   bool   // this view is the billed one of its ext_id
	NoticeID int64  // the burl notice enqueued with it, or 0
	Reason   string // why a new view is not billed: UnbilledRepeat, UnbilledLate or ""
	// Impressions is how many impression notices (markup pixels, VAST
	// Impression URLs) were enqueued with it.
	Impressions int
	// ImpressionIDs are their outbox ids, in seq order (RecordViews only).
	ImpressionIDs []int64
}

// eventLockClass is the first key of the per-ext_id advisory lock that
// serialises events of one win (two-key locks never collide with the
// single-key migration lock).
const eventLockClass = 4

// clockSlack is how much earlier than its win (or than the event being
// recorded) an earlier event of the same win may be stamped: the clocks of
// several instances differ a little, never a day.
const clockSlack = 24 * time.Hour

// recordViewSQL inserts a view and, if it is the first view of its ext_id
// and not late, bills it and enqueues its burl, all in one statement. It
// runs right after the ext_id's advisory lock in the same implicit
// transaction, so its snapshot sees every event of that ext_id committed
// before it. The database no longer enforces (ext_id, case_id) uniqueness
// across partitions (see migration 007): prior.dup does, under the lock
// (one look-up of the win's earlier views: seen is any, dup this case id).
// $13 and $15 bound the look-up to the partitions from the win's time to
// now: no other partition can hold an earlier event of the win.
const recordViewSQL = `WITH prior AS (
	SELECT count(*) > 0 AS seen, coalesce(bool_or(case_id = $2), false) AS dup
	FROM events WHERE ext_id = $1 AND type = 'view' AND created_at >= $13 AND created_at < $15
), ev AS (
	INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id,
		price_micros, rate_nanos, value, created_at, dsp, unbilled_reason, fee_ppm,
		bid_adjustment_ppm, bid_price, bid_currency)
	SELECT $1, $2, 'view', $3, $4, $5, $6, $7, CASE WHEN prior.seen OR $14 THEN 0 ELSE $8::bigint END, $9, $10,
		CASE WHEN prior.seen THEN 'repeat' WHEN $14 THEN 'late' ELSE '' END, $16,
		coalesce(nullif($17::bigint, 0), 1000000), $18, $19
	FROM prior WHERE NOT prior.dup
	ON CONFLICT DO NOTHING
	RETURNING id, created_at
), ob AS (
	INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, created_at, next_attempt_at, billed_value, billed_price_micros)
	SELECT $1, ev.id, ev.created_at, $10, 'burl', $11, $12, $12, $8, $6 FROM ev, prior
	WHERE NOT prior.seen AND NOT $14 AND $11 <> ''
	RETURNING id
), imp AS (
	INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, seq, created_at, next_attempt_at)
	SELECT $1, ev.id, ev.created_at, $10, 'imp', u.url, u.n, $12, $12
	FROM ev, prior, unnest($20::text[]) WITH ORDINALITY AS u(url, n)
	WHERE NOT prior.seen AND NOT $14
	RETURNING id
)
SELECT coalesce((SELECT id FROM ev), 0),
	(SELECT id FROM ev) IS NOT NULL AND NOT (SELECT seen FROM prior) AND NOT $14,
	coalesce((SELECT id FROM ob), 0),
	CASE WHEN (SELECT id FROM ev) IS NULL THEN '' WHEN (SELECT seen FROM prior) THEN 'repeat' WHEN $14 THEN 'late' ELSE '' END,
	(SELECT count(*) FROM imp)::int`

// lookBack is the created_at range of the look-up of a win's earlier
// events: from the win (or this event, if earlier) to now, each widened by
// the clocks' slack. Every earlier event was stamped in it.
func lookBack(ev Event) (from, to time.Time) {
	from = time.Unix(0, 0)
	if !ev.WinAt.IsZero() {
		from = minTime(ev.WinAt, ev.CreatedAt).Add(-clockSlack)
	}
	return from, maxTime(ev.CreatedAt, time.Now()).Add(clockSlack)
}

// RecordView stores a view idempotently and commits before returning. Only
// the first view of an ext_id is billed (value ev.Value; the burl and the
// impression notices enqueued for dsp in the same transaction), unless it is
// late (ev.Late: value 0, no notices); a view of the same ext_id with
// another case id is stored with value 0; the same (ext_id, case_id) again
// changes nothing. burl is the notice URL with its macros already expanded
// ("" for none); impressions are the markup's pixel URLs (or the VAST
// Impression URLs), expanded, enqueued as kind imp with seq 1..n.
func (s *Store) RecordView(ctx context.Context, ev Event, dsp, burl string, impressions ...string) (Recorded, error) {
	// One round trip, one implicit transaction: the lock, then the insert.
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, eventLockClass, ev.ExtID)
	enqueued := ev.EnqueuedAt
	if enqueued.IsZero() {
		enqueued = ev.CreatedAt
	}
	from, to := lookBack(ev)
	batch.Queue(recordViewSQL, ev.ExtID, ev.CaseID, ev.ImpressionID, ev.ZoneID, ev.PublisherID,
		ev.PriceMicros, ev.RateNanos, ev.Value, ev.CreatedAt, dsp, burl, enqueued, from, ev.Late, to, ev.FeePPM,
		ev.BidAdjustmentPPM, ev.BidPrice, ev.BidCurrency, append([]string{}, impressions...))
	br := s.Pool.SendBatch(ctx, batch)
	var out Recorded
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&out.EventID, &out.Billed, &out.NoticeID, &out.Reason, &out.Impressions)
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

// recordClickSQL stores a click unless the same (ext_id, case_id) click is
// stored already (looked up under the ext_id's lock, like a view).
const recordClickSQL = `WITH ev AS (
	INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id, price_micros, rate_nanos, created_at, dsp, fee_ppm)
	SELECT $1, $2, 'click', $3, $4, $5, $6, $7, $8, $9, $12
	WHERE NOT EXISTS (SELECT 1 FROM events WHERE ext_id = $1 AND case_id = $2 AND type = 'click' AND created_at >= $10 AND created_at < $11)
	ON CONFLICT DO NOTHING RETURNING id)
SELECT coalesce((SELECT id FROM ev), 0)`

// RecordClick stores a click idempotently (value 0) and commits before
// returning.
func (s *Store) RecordClick(ctx context.Context, ev Event) (Recorded, error) {
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, eventLockClass, ev.ExtID)
	from, to := lookBack(ev)
	batch.Queue(recordClickSQL, ev.ExtID, ev.CaseID, ev.ImpressionID, ev.ZoneID, ev.PublisherID, ev.PriceMicros,
		ev.RateNanos, ev.CreatedAt, ev.DSP, from, to, ev.FeePPM)
	br := s.Pool.SendBatch(ctx, batch)
	var out Recorded
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&out.EventID)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Recorded{}, fmt.Errorf("store: record click: %w", err)
	}
	return out, nil
}

// EventsOf returns the events of an ext_id, oldest first (operator tools, tests).
func (s *Store) EventsOf(ctx context.Context, extID string) ([]Event, error) {
	rows, err := s.Pool.Query(ctx, `SELECT ext_id, case_id, type, impression_id, zone_id, publisher_id, dsp,
		price_micros, rate_nanos, value, created_at, unbilled_reason, fee_ppm FROM events WHERE ext_id = $1 ORDER BY id`, extID)
	if err != nil {
		return nil, fmt.Errorf("store: events of %s: %w", extID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ExtID, &e.CaseID, &e.Type, &e.ImpressionID, &e.ZoneID, &e.PublisherID, &e.DSP,
			&e.PriceMicros, &e.RateNanos, &e.Value, &e.CreatedAt, &e.UnbilledReason, &e.FeePPM)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of %s: %w", extID, err)
	}
	return out, nil
}
