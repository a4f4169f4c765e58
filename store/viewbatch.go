package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ViewWrite is one view for RecordViews: the event, the DSP its notices go
// to, its burl (macros expanded, "" for none) and its impression URLs.
type ViewWrite struct {
	Event       Event
	DSP         string
	BURL        string
	Impressions []string
}

// A group of views is stored in one transaction of two round trips:
//
//  1. BEGIN, the advisory locks of its ext_ids (lockEventsSQL), then the
//     look-up of their earlier views (priorviews.go). Under the locks its
//     snapshot sees every view of those ext_ids committed before.
//  2. The group's own rows (insertViewsSQL), then COMMIT.
//
// Between them the bridge decides each view as RecordView would have
// decided it, had the views been recorded one by one in order: from the
// look-up and from the group's earlier views of the same ext_id. The
// insert thus reads no table, only writes the partitioned parents, so it
// can keep one generic plan (SET LOCAL plan_cache_mode): a generic plan
// of a statement that reads a partitioned table would lock every
// partition, one that only inserts locks the parents (rows are routed at
// run time). Planning it afresh cost about as much database CPU as running
// it (issue 14). The look-up names the events partitions it reads, so it
// keeps a generic plan too, unless the partitions are not known
// (priorviews.go says why that is safe).

// insertViewsSQL stores the new views of a group (one array per column, v.i
// numbering them; value and unbilled reason already decided), the burl of
// each one with a non-empty one and the impression pixels ($20..$22) of
// each billed one (in seq order, so that their ids are too). The events' ids are drawn first, so that notices and
// answers name their view without matching the insert's rows back. The
// insert needs no ON CONFLICT: under the lock, the look-up already found
// any row the unique key would (a conflict anyway fails the group, which
// is then stored view by view by RecordView). $23 is the lease token of the
// notices (empty: none, due at once) and $24 its length, counted from the
// database's clock as ClaimNotices counts it.
const insertViewsSQL = `WITH v AS MATERIALIZED (
	SELECT nextval('events_id_seq') AS id, * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::bigint[], $8::bigint[], $9::bigint[], $10::timestamptz[], $11::text[], $12::text[], $13::bigint[], $14::bigint[],
		$15::text[], $16::text[], $17::text[], $18::timestamptz[], $19::bigint[])
	AS v(i, ext_id, case_id, impression_id, zone_id, publisher_id, price_micros, rate_nanos, value, created_at,
		dsp, reason, fee_ppm, adj, bid_price, bid_currency, burl, enqueued, billed_value)
), ev AS (
	INSERT INTO events (id, ext_id, case_id, type, impression_id, zone_id, publisher_id,
		price_micros, rate_nanos, value, created_at, dsp, unbilled_reason, fee_ppm,
		bid_adjustment_ppm, bid_price, bid_currency)
	SELECT id, ext_id, case_id, 'view', impression_id, zone_id, publisher_id, price_micros, rate_nanos, value,
		created_at, dsp, reason, fee_ppm, coalesce(nullif(adj, 0), 1000000), bid_price, bid_currency
	FROM v
), ob AS (
	INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, created_at, next_attempt_at, claim, billed_value, billed_price_micros)
	SELECT ext_id, id, created_at, dsp, 'burl', burl, enqueued,
		CASE WHEN $23 = '' THEN enqueued ELSE statement_timestamp() + $24::interval END, $23, billed_value, price_micros
	FROM v WHERE burl <> ''
	RETURNING id, event_id
), imp AS (
	INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, seq, created_at, next_attempt_at, claim)
	SELECT v.ext_id, v.id, v.created_at, v.dsp, 'imp', u.url, u.seq, v.enqueued,
		CASE WHEN $23 = '' THEN v.enqueued ELSE statement_timestamp() + $24::interval END, $23
	FROM unnest($20::int[], $21::text[], $22::int[]) AS u(i, url, seq) JOIN v ON v.i = u.i
	ORDER BY u.i, u.seq
	RETURNING id, event_id, seq
), imps AS (SELECT event_id, array_agg(id ORDER BY seq) AS ids FROM imp GROUP BY event_id)
SELECT v.i, v.id, coalesce(ob.id, 0), coalesce(imps.ids, '{}')
FROM v LEFT JOIN ob ON ob.event_id = v.id LEFT JOIN imps ON imps.event_id = v.id`

// NoticeLease makes RecordViewsLeased enqueue its notices already claimed:
// claim Token until For after the insert (the database's clock), as if
// ClaimNotices had claimed them then. The caller delivers them from memory
// after the commit, without a claim statement; no other worker takes them
// while the lease holds, and any worker does once it passes (a crash).
type NoticeLease struct {
	Token string
	For   time.Duration
}

// RecordViews stores many views in one transaction and commits once before
// returning: out[i] is what RecordView would have returned for vs[i] had
// the views been recorded one by one in this order (so only the first view
// of an ext_id is billed, also within vs). Any error leaves none of them
// stored. Their notices are due at once.
func (s *Store) RecordViews(ctx context.Context, vs []ViewWrite) ([]Recorded, error) {
	return s.RecordViewsLeased(ctx, vs, NoticeLease{})
}

// RecordViewsLeased is RecordViews with the notices enqueued under lease
// (none if its Token is ""): LeasedNotices lists them for delivery.
func (s *Store) RecordViewsLeased(ctx context.Context, vs []ViewWrite, lease NoticeLease) ([]Recorded, error) {
	if len(vs) == 0 {
		return []Recorded{}, nil
	}
	out, err := s.recordViews(ctx, vs, lease)
	if err != nil {
		return nil, fmt.Errorf("store: record %d views: %w", len(vs), err)
	}
	return out, nil
}

func (s *Store) recordViews(ctx context.Context, vs []ViewWrite, lease NoticeLease) (out []Recorded, err error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	defer func() {
		if err != nil {
			rollbackIfOpen(conn)
		}
	}()
	ws := viewWindows(vs)
	prior, err := s.lookUpPriorViews(ctx, conn.Conn(), vs, ws)
	if err != nil {
		return nil, err
	}
	decided := decideViews(vs, ws, prior)
	out = make([]Recorded, len(vs))
	batch := &pgx.Batch{}
	batch.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
	batch.Queue(insertViewsSQL, append(insertArgs(vs, decided), lease.Token, lease.For)...)
	batch.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, batch)
	n := 0
	if _, err = br.Exec(); err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			for rows.Next() {
				var i int32
				var rec Recorded
				if err = rows.Scan(&i, &rec.EventID, &rec.NoticeID, &rec.ImpressionIDs); err != nil {
					break
				}
				if i < 0 || int(i) >= len(vs) || decided[i].dup {
					err = fmt.Errorf("row %d out of range", i)
					break
				}
				rec.Billed, rec.Reason, rec.Impressions = decided[i].billed(), decided[i].reason, len(rec.ImpressionIDs)
				out[i] = rec
				n++
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
	}
	if err == nil {
		// The COMMIT's answer: only after it are the views durable.
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != decided.fresh() {
		err = fmt.Errorf("%d rows for %d new views", n, decided.fresh())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// enqueuedAt is the created_at of a view's notices: EnqueuedAt (or the
// view's time), at the database's precision, so that a Notice built from it
// in memory names its row exactly.
func enqueuedAt(ev Event) time.Time {
	t := ev.EnqueuedAt
	if t.IsZero() {
		t = ev.CreatedAt
	}
	return t.Truncate(time.Microsecond)
}

// LeasedNotices are the notices RecordViewsLeased enqueued for w under
// token, as ClaimNotices would have returned them: its burl, then its
// impression pixels in order.
func (w ViewWrite) LeasedNotices(r Recorded, token string) []Notice {
	if r.NoticeID == 0 && len(r.ImpressionIDs) == 0 {
		return nil
	}
	at := enqueuedAt(w.Event)
	out := make([]Notice, 0, 1+len(r.ImpressionIDs))
	if r.NoticeID != 0 {
		out = append(out, Notice{ID: r.NoticeID, ExtID: w.Event.ExtID, DSP: w.DSP, Kind: "burl", URL: w.BURL, CreatedAt: at, Claim: token})
	}
	for k, id := range r.ImpressionIDs {
		if k < len(w.Impressions) {
			out = append(out, Notice{ID: id, ExtID: w.Event.ExtID, DSP: w.DSP, Kind: "imp", URL: w.Impressions[k], CreatedAt: at, Claim: token})
		}
	}
	return out
}
