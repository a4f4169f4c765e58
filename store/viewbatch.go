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

// recordViewsSQL is recordViewSQL for many views of distinct ext_ids in one
// statement (one array per column, v.i numbering them). $24..$25 spans
// every view's look-back range: constants the planner prunes the events
// partitions with (the per-view bounds, from the arrays, cannot). It runs after the
// advisory locks of every ext_id of the batch, in the same transaction, so
// its snapshot sees every event of those ext_ids committed before it (and
// those of the batch's earlier rounds). One look-up of a win's earlier
// views answers both questions (seen: any; dup: this case id). The insert
// needs no ON CONFLICT: under the lock, dup already finds the row the
// unique key would (a conflict anyway fails the group, which is then
// stored view by view by RecordView). $26 is the lease token of the
// notices (empty: none, due at once) and $27 its length, counted from the
// database's clock as ClaimNotices counts it.
const recordViewsSQL = `WITH v AS (
	SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
		$8::bigint[], $9::bigint[], $10::timestamptz[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[],
		$15::bool[], $16::timestamptz[], $17::bigint[], $18::bigint[], $19::text[], $20::text[])
	AS v(i, ext_id, case_id, impression_id, zone_id, publisher_id, price_micros, rate_nanos, value, created_at,
		dsp, burl, enqueued, look_from, late, look_to, fee_ppm, adj, bid_price, bid_currency)
), p AS MATERIALIZED (
	SELECT v.*, x.seen, x.dup
	FROM v CROSS JOIN LATERAL (SELECT count(*) > 0 AS seen, coalesce(bool_or(e.case_id = v.case_id), false) AS dup
		FROM events e WHERE e.ext_id = v.ext_id AND e.type = 'view'
			AND e.created_at >= v.look_from AND e.created_at < v.look_to
			AND e.created_at >= $24 AND e.created_at < $25) AS x
), ev AS (
	INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id,
		price_micros, rate_nanos, value, created_at, dsp, unbilled_reason, fee_ppm,
		bid_adjustment_ppm, bid_price, bid_currency)
	SELECT ext_id, case_id, 'view', impression_id, zone_id, publisher_id, price_micros, rate_nanos,
		CASE WHEN seen OR late THEN 0 ELSE value END, created_at, dsp,
		CASE WHEN seen THEN 'repeat' WHEN late THEN 'late' ELSE '' END, fee_ppm,
		coalesce(nullif(adj, 0), 1000000), bid_price, bid_currency
	FROM p WHERE NOT dup
	RETURNING id, ext_id, created_at
), ob AS (
	INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, created_at, next_attempt_at, claim, billed_value, billed_price_micros)
	SELECT p.ext_id, ev.id, ev.created_at, p.dsp, 'burl', p.burl, p.enqueued,
		CASE WHEN $26 = '' THEN p.enqueued ELSE statement_timestamp() + $27::interval END, $26, p.value, p.price_micros
	FROM ev JOIN p ON p.ext_id = ev.ext_id
	WHERE NOT p.seen AND NOT p.late AND p.burl <> ''
	RETURNING id, ext_id
), imp AS (
	INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, seq, created_at, next_attempt_at, claim)
	SELECT p.ext_id, ev.id, ev.created_at, p.dsp, 'imp', u.url, u.seq, p.enqueued,
		CASE WHEN $26 = '' THEN p.enqueued ELSE statement_timestamp() + $27::interval END, $26
	FROM unnest($21::int[], $22::text[], $23::int[]) AS u(i, url, seq)
	JOIN p ON p.i = u.i JOIN ev ON ev.ext_id = p.ext_id
	WHERE NOT p.seen AND NOT p.late
	RETURNING id, ext_id, seq
), imps AS (SELECT ext_id, array_agg(id ORDER BY seq) AS ids FROM imp GROUP BY ext_id)
SELECT p.i, coalesce(ev.id, 0), ev.id IS NOT NULL AND NOT p.seen AND NOT p.late, coalesce(ob.id, 0),
	CASE WHEN ev.id IS NULL THEN '' WHEN p.seen THEN 'repeat' WHEN p.late THEN 'late' ELSE '' END,
	coalesce(imps.ids, '{}')
FROM p LEFT JOIN ev ON ev.ext_id = p.ext_id LEFT JOIN ob ON ob.ext_id = p.ext_id LEFT JOIN imps ON imps.ext_id = p.ext_id`

// lockEventsSQL takes the advisory locks of many ext_ids, in the order of
// their keys, so that two batches sharing ext_ids never deadlock.
const lockEventsSQL = `SELECT count(pg_advisory_xact_lock($1::int, h)) FROM
	(SELECT DISTINCT hashtext(x) AS h FROM unnest($2::text[]) AS x ORDER BY 1 OFFSET 0) AS k`

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
	out := make([]Recorded, len(vs))
	if len(vs) == 0 {
		return out, nil
	}
	batch := &pgx.Batch{}
	extIDs := make([]string, len(vs))
	for i, v := range vs {
		extIDs[i] = v.Event.ExtID
	}
	batch.Queue(lockEventsSQL, eventLockClass, extIDs)
	// Rounds of distinct ext_ids: a later view of an ext_id goes in a later
	// statement, which sees the earlier one's insert.
	rounds := viewRounds(vs)
	for _, r := range rounds {
		batch.Queue(recordViewsSQL, append(r.args(vs), lease.Token, lease.For)...)
	}
	br := s.Pool.SendBatch(ctx, batch)
	_, err := br.Exec()
	for _, r := range rounds {
		if err != nil {
			break
		}
		var rows pgx.Rows
		if rows, err = br.Query(); err != nil {
			break
		}
		n := 0
		for rows.Next() {
			var i int32
			var rec Recorded
			if err = rows.Scan(&i, &rec.EventID, &rec.Billed, &rec.NoticeID, &rec.Reason, &rec.ImpressionIDs); err != nil {
				break
			}
			rec.Impressions = len(rec.ImpressionIDs)
			if i < 0 || int(i) >= len(vs) {
				err = fmt.Errorf("row %d out of range", i)
				break
			}
			out[i] = rec
			n++
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err == nil && n != len(r) {
			err = fmt.Errorf("%d rows for %d views", n, len(r))
		}
	}
	// Close reads the commit's answer: only after it are the views durable.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("store: record %d views: %w", len(vs), err)
	}
	return out, nil
}

// viewRound is the indexes (into the batch) of views of distinct ext_ids.
type viewRound []int

// viewRounds splits vs into rounds of distinct ext_ids, keeping the order of
// the views of one ext_id across rounds.
func viewRounds(vs []ViewWrite) []viewRound {
	var rounds []viewRound
	seen := make(map[string]int, len(vs)) // ext_id: views of it so far
	for i, v := range vs {
		k := seen[v.Event.ExtID]
		seen[v.Event.ExtID] = k + 1
		if k == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[k] = append(rounds[k], i)
	}
	return rounds
}

// args are recordViewsSQL's arrays for the views of r.
func (r viewRound) args(vs []ViewWrite) []any {
	n := len(r)
	var (
		idx                          = make([]int32, n)
		extID, caseID, iid, zid, pid = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		price, rate, value, fee, adj = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		at, enq, from, to            = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		dsp, burl, bidPrice, bidCur  = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		late                         = make([]bool, n)
		impIdx, impSeq               []int32
		impURL                       []string
	)
	for j, i := range r {
		v := vs[i]
		ev := v.Event
		idx[j] = int32(i)
		extID[j], caseID[j], iid[j], zid[j], pid[j] = ev.ExtID, ev.CaseID, ev.ImpressionID, ev.ZoneID, ev.PublisherID
		price[j], rate[j], value[j], fee[j], adj[j] = ev.PriceMicros, ev.RateNanos, ev.Value, ev.FeePPM, ev.BidAdjustmentPPM
		at[j], enq[j] = ev.CreatedAt, enqueuedAt(ev)
		from[j], to[j] = lookBack(ev)
		dsp[j], burl[j], bidPrice[j], bidCur[j] = v.DSP, v.BURL, ev.BidPrice, ev.BidCurrency
		late[j] = ev.Late
		for k, u := range v.Impressions {
			impIdx, impURL, impSeq = append(impIdx, int32(i)), append(impURL, u), append(impSeq, int32(k+1))
		}
	}
	if impIdx == nil {
		impIdx, impURL, impSeq = []int32{}, []string{}, []int32{}
	}
	lo, hi := from[0], to[0]
	for j := range from {
		lo, hi = minTime(lo, from[j]), maxTime(hi, to[j])
	}
	return []any{idx, extID, caseID, iid, zid, pid, price, rate, value, at, dsp, burl, enq, from, late, to, fee, adj,
		bidPrice, bidCur, impIdx, impURL, impSeq, lo, hi}
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

// viewWinColumns are the columns of a win that a view reads: what prices,
// dates and bills it and expands its burl and pixels. The rest of the row
// (the creative, the nurl, categories, sizes: half the columns, two arrays
// and a bytea) is never looked at by a view, and decoding it was a
// measurable part of the bridge's CPU per view.
const viewWinColumns = `ext_id, auction_id, request_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, burl, bid_adjustment_ppm, exp, fixed_price, created_at, impression_urls`

// getAuctionsNearSQL finds many wins in the partitions around their
// ext_ids' times ($2..$3 spans them all).
const getAuctionsNearSQL = `SELECT ` + viewWinColumns + ` FROM auctions
	WHERE ext_id = ANY($1::text[]) AND created_at >= $2 AND created_at < $3`

// getAuctionsSQL finds many wins in every partition (ext_ids without a
// time, or not found near it).
const getAuctionsSQL = `SELECT ` + viewWinColumns + ` FROM auctions WHERE ext_id = ANY($1::text[])`

// GetAuctions returns the wins stored under extIDs, by ext_id (an unknown
// one is missing from the map), with the columns a view reads only
// (viewWinColumns; the other fields are zero), in at most two round trips: those whose
// ext_id carries its time in the partitions near it, the others (and those
// not found there) everywhere, as GetAuction does. It is the look-up of a
// group of views.
func (s *Store) GetAuctions(ctx context.Context, extIDs []string) (map[string]*Auction, error) {
	out := make(map[string]*Auction, len(extIDs))
	var near, far []string
	var lo, hi time.Time
	for _, id := range extIDs {
		t, ok := ExtIDTime(id)
		if !ok {
			far = append(far, id)
			continue
		}
		if len(near) == 0 || t.Before(lo) {
			lo = t
		}
		if len(near) == 0 || t.After(hi) {
			hi = t
		}
		near = append(near, id)
	}
	if len(near) > 0 {
		if err := s.collectAuctions(ctx, out, getAuctionsNearSQL, near, lo.Add(-extIDSlack), hi.Add(extIDSlack)); err != nil {
			return nil, err
		}
		for _, id := range near {
			if out[id] == nil {
				far = append(far, id)
			}
		}
	}
	if len(far) > 0 {
		if err := s.collectAuctions(ctx, out, getAuctionsSQL, far); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) collectAuctions(ctx context.Context, out map[string]*Auction, sql string, args ...any) error {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("store: get auctions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Auction
		if err := rows.Scan(&a.ExtID, &a.AuctionID, &a.RequestID, &a.DSP, &a.Seat, &a.BidID, &a.AdID,
			&a.PriceMicros, &a.BidCurrency, &a.BidPrice, &a.BURL, &a.BidAdjustmentPPM, &a.Exp, &a.FixedPrice,
			&a.CreatedAt, &a.ImpressionURLs); err != nil {
			return fmt.Errorf("store: get auctions: %w", err)
		}
		out[a.ExtID] = &a
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: get auctions: %w", err)
	}
	return nil
}
