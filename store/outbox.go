package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notice statuses in the outbox.
const (
	NoticePending     = "pending"
	NoticeDelivered   = "delivered"
	NoticeUndelivered = "undelivered"
)

// Notice is one claimed nurl/burl call to a DSP.
type Notice struct {
	ID        int64
	ExtID     string
	DSP       string
	Kind      string // nurl, burl or imp
	URL       string // macros already expanded
	Attempts  int    // attempts finished before this one
	CreatedAt time.Time
	Claim     string // the claim token; needed to record the outcome
}

// epoch is "since the beginning": a created_at bound that prunes nothing.
var epoch = time.Unix(0, 0)

// noBound is an upper created_at bound that prunes nothing.
var noBound = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// pendingDSPsSQL lists the DSPs with pending notices created from $1 to
// $2, with one index probe per DSP and partition (a loose index scan), so
// it stays cheap with a large backlog and many partitions. The upper bound
// keeps the partitions made ahead of time out of its plan: planning over
// them was most of its cost (about 2 ms a poll).
const pendingDSPsSQL = `WITH RECURSIVE d AS (
	SELECT (SELECT min(dsp) FROM outbox WHERE status = 'pending' AND created_at >= $1 AND created_at <= $2) AS dsp
	UNION ALL
	SELECT (SELECT min(dsp) FROM outbox WHERE status = 'pending' AND created_at >= $1 AND created_at <= $2 AND dsp > d.dsp)
	FROM d WHERE d.dsp IS NOT NULL)
	SELECT dsp FROM d WHERE dsp IS NOT NULL`

// PendingDSPs lists the DSPs that have pending notices created from since
// to until (zero: no bound), the span a claim looks at (Claim.Since,
// Claim.Until).
func (s *Store) PendingDSPs(ctx context.Context, since, until time.Time) ([]string, error) {
	if until.IsZero() {
		until = noBound
	}
	rows, err := s.Pool.Query(ctx, pendingDSPsSQL, since, until)
	if err != nil {
		return nil, fmt.Errorf("store: pending dsps: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: pending dsps: %w", err)
	}
	return out, nil
}

// Claim is what ClaimNotices asks for.
type Claim struct {
	// Now is the time notices must be due by and the lease starts from;
	// zero (the bridge) uses the database's clock, so that instances with
	// skewed clocks never cut each other's leases short. Tests inject one.
	Now time.Time
	// Lease is how long the claim lasts: a worker that dies holding it
	// gives the notice back then.
	Lease time.Duration
	// Since is the oldest created_at looked at (partition pruning); older
	// pending notices are given up by ExpireNotices.
	Since time.Time
	// Until is the newest created_at looked at (zero: no bound). Without
	// it the claim plans and scans every partition made ahead of time and
	// the default one; a notice created after it (a clock ahead) is
	// claimed once Until passes it.
	Until time.Time
	Token string
	// Quota is, per DSP, how many notices to claim at most.
	Quota map[string]int
}

// claimSQL claims, for one DSP, up to $5 pending notices created in
// [$6, $7] and due at $2 (or the database's now), oldest first, skipping rows another worker is claiming,
// and moves their next_attempt_at to the end of the lease.
const claimSQL = `UPDATE outbox SET next_attempt_at = coalesce($2::timestamptz, statement_timestamp()) + $3::interval, claim = $4
	WHERE created_at >= $6 AND created_at <= $7 AND (id, created_at) IN (SELECT id, created_at FROM outbox
		WHERE status = 'pending' AND dsp = $1 AND created_at >= $6 AND created_at <= $7
			AND next_attempt_at <= coalesce($2::timestamptz, statement_timestamp())
		ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
	RETURNING id, ext_id, dsp, kind, url, attempts, created_at, claim`

// ClaimNotices claims, per DSP, up to c.Quota[dsp] due notices. It returns
// them and the time the claim was made at (c.Now, or the database's clock),
// which the caller's deadlines and backoff should count from. All DSPs are
// claimed in one round trip; each claim is its own short statement.
func (s *Store) ClaimNotices(ctx context.Context, c Claim) ([]Notice, time.Time, error) {
	var now *time.Time
	if !c.Now.IsZero() {
		now = &c.Now
	}
	batch := &pgx.Batch{}
	batch.Queue(`SELECT coalesce($1::timestamptz, statement_timestamp())`, now)
	until := c.Until
	if until.IsZero() {
		until = noBound
	}
	for dsp, n := range c.Quota {
		if n > 0 {
			batch.Queue(claimSQL, dsp, now, c.Lease, c.Token, n, c.Since, until)
		}
	}
	if batch.Len() == 1 {
		return nil, c.Now, nil
	}
	// A batch is one implicit transaction: claims of all DSPs commit together.
	br := s.Pool.SendBatch(ctx, batch)
	var out []Notice
	var at time.Time
	err := br.QueryRow().Scan(&at)
	for i := 1; i < batch.Len() && err == nil; i++ {
		var rows pgx.Rows
		if rows, err = br.Query(); err != nil {
			break
		}
		var got []Notice
		got, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notice, error) {
			var n Notice
			err := r.Scan(&n.ID, &n.ExtID, &n.DSP, &n.Kind, &n.URL, &n.Attempts, &n.CreatedAt, &n.Claim)
			return n, err
		})
		out = append(out, got...)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("store: claim notices: %w", err)
	}
	return out, at, nil
}

// ErrClaimLost is returned when a notice's outcome cannot be recorded
// because its claim expired and another worker took it over.
var ErrClaimLost = errors.New("store: notice claim lost")

// Outcome is the result of one delivery attempt of a claimed notice.
type Outcome struct {
	Notice Notice
	// Status is NoticeDelivered (a 2xx), NoticePending (retry at Next) or
	// NoticeUndelivered (given up).
	Status string
	At     time.Time // delivered_at, for NoticeDelivered
	Next   time.Time // the next attempt, for NoticePending
	// HTTPStatus is the DSP's answer (0: none).
	HTTPStatus int
	// Attempted says whether a call was made (and so counts as an attempt);
	// a notice given up before any call is not.
	Attempted bool
	Reason    string // last_error
}

// recordOutcomesSQL records many outcomes in one statement. Only the holder
// of a claim may record it (claim = token, still pending); the ids it
// returns are the ones recorded.
const recordOutcomesSQL = `UPDATE outbox o SET
	status = v.status,
	attempts = o.attempts + v.inc,
	delivered_at = CASE WHEN v.status = 'delivered' THEN v.at ELSE o.delivered_at END,
	next_attempt_at = CASE WHEN v.status = 'pending' THEN v.next ELSE o.next_attempt_at END,
	last_status = CASE WHEN v.status = 'undelivered' THEN coalesce(nullif(v.code, 0), o.last_status) ELSE nullif(v.code, 0) END,
	last_error = v.reason,
	claim = ''
	FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::timestamptz[], $8::int[], $9::text[])
		AS v(id, created_at, claim, status, inc, at, next, code, reason)
	WHERE o.id = v.id AND o.created_at = v.created_at AND o.created_at >= $10 AND o.created_at <= $11
		AND o.claim = v.claim AND o.status = 'pending'
	RETURNING o.id`

// RecordOutcomes stores the outcomes of many deliveries in one statement
// (one commit for a whole burst of deliveries) and returns the ids whose
// claim was lost (expired and taken over: nothing recorded for them).
func (s *Store) RecordOutcomes(ctx context.Context, outs []Outcome) (lost []int64, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	n := len(outs)
	ids, created, claims, statuses := make([]int64, n), make([]time.Time, n), make([]string, n), make([]string, n)
	incs, ats, nexts, codes, reasons := make([]int32, n), make([]*time.Time, n), make([]*time.Time, n), make([]int32, n), make([]string, n)
	lo, hi := outs[0].Notice.CreatedAt, outs[0].Notice.CreatedAt
	for i, o := range outs {
		ids[i], created[i], claims[i], statuses[i] = o.Notice.ID, o.Notice.CreatedAt, o.Notice.Claim, o.Status
		if o.Attempted {
			incs[i] = 1
		}
		if o.Status == NoticeDelivered {
			ats[i] = &outs[i].At
		}
		if o.Status == NoticePending {
			nexts[i] = &outs[i].Next
		}
		codes[i], reasons[i] = int32(o.HTTPStatus), o.Reason
		lo, hi = minTime(lo, o.Notice.CreatedAt), maxTime(hi, o.Notice.CreatedAt)
	}
	rows, err := s.Pool.Query(ctx, recordOutcomesSQL, ids, created, claims, statuses, incs, ats, nexts, codes, reasons, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("store: outbox update: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: outbox update: %w", err)
	}
	recorded := make(map[int64]bool, len(done))
	for _, id := range done {
		recorded[id] = true
	}
	for _, id := range ids {
		if !recorded[id] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// MarkDelivered records a 2xx answer.
func (s *Store) MarkDelivered(ctx context.Context, n Notice, at time.Time, status int) error {
	return s.recordOne(ctx, Outcome{Notice: n, Status: NoticeDelivered, At: at, HTTPStatus: status, Attempted: true})
}

// MarkRetry records a failed attempt and schedules the next one.
func (s *Store) MarkRetry(ctx context.Context, n Notice, next time.Time, status int, reason string) error {
	return s.recordOne(ctx, Outcome{Notice: n, Status: NoticePending, Next: next, HTTPStatus: status, Attempted: true, Reason: reason})
}

// MarkUndelivered gives a notice up for good (a 4xx, or too old); it stays
// in the outbox, visible to the operator. attempted says whether a call was
// made this time (and so counts as an attempt).
func (s *Store) MarkUndelivered(ctx context.Context, n Notice, attempted bool, status int, reason string) error {
	return s.recordOne(ctx, Outcome{Notice: n, Status: NoticeUndelivered, HTTPStatus: status, Attempted: attempted, Reason: reason})
}

func (s *Store) recordOne(ctx context.Context, o Outcome) error {
	lost, err := s.RecordOutcomes(ctx, []Outcome{o})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return ErrClaimLost
	}
	return nil
}

// ExpireNotices gives up the pending notices created before before that no
// worker holds (never claimed in time: the claims only look at recent
// partitions), and returns how many.
func (s *Store) ExpireNotices(ctx context.Context, before time.Time, reason string) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE outbox SET status = 'undelivered', last_error = $2, claim = ''
		WHERE status = 'pending' AND created_at < $1 AND next_attempt_at < statement_timestamp()`, before, reason)
	if err != nil {
		return 0, fmt.Errorf("store: expire notices: %w", err)
	}
	return tag.RowsAffected(), nil
}
