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

// PendingDSPs lists the DSPs that have pending notices, with one index probe
// per DSP (a loose index scan), so it stays cheap with a large backlog.
func (s *Store) PendingDSPs(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `WITH RECURSIVE d AS (
		SELECT (SELECT min(dsp) FROM outbox WHERE status = 'pending') AS dsp
		UNION ALL
		SELECT (SELECT min(dsp) FROM outbox WHERE status = 'pending' AND dsp > d.dsp) FROM d WHERE d.dsp IS NOT NULL)
		SELECT dsp FROM d WHERE dsp IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("store: pending dsps: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: pending dsps: %w", err)
	}
	return out, nil
}

// ClaimNotices claims, per DSP, up to quota[dsp] pending notices due at now,
// oldest first, skipping rows another worker is claiming. Each claimed row's
// next_attempt_at moves to leaseUntil, so a worker that dies holding it
// gives it back then. All DSPs are claimed in one round trip; each claim is
// its own short statement.
func (s *Store) ClaimNotices(ctx context.Context, now, leaseUntil time.Time, token string, quota map[string]int) ([]Notice, error) {
	batch := &pgx.Batch{}
	for dsp, n := range quota {
		if n <= 0 {
			continue
		}
		batch.Queue(`UPDATE outbox SET next_attempt_at = $3, claim = $4
			WHERE id IN (SELECT id FROM outbox
				WHERE status = 'pending' AND dsp = $1 AND next_attempt_at <= $2
				ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
			RETURNING id, ext_id, dsp, kind, url, attempts, created_at, claim`,
			dsp, now, leaseUntil, token, n)
	}
	if batch.Len() == 0 {
		return nil, nil
	}
	// A batch is one implicit transaction: claims of all DSPs commit together.
	br := s.Pool.SendBatch(ctx, batch)
	var out []Notice
	var err error
	for range batch.Len() {
		var rows pgx.Rows
		rows, err = br.Query()
		if err != nil {
			break
		}
		var got []Notice
		got, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notice, error) {
			var n Notice
			err := r.Scan(&n.ID, &n.ExtID, &n.DSP, &n.Kind, &n.URL, &n.Attempts, &n.CreatedAt, &n.Claim)
			return n, err
		})
		if err != nil {
			break
		}
		out = append(out, got...)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim notices: %w", err)
	}
	return out, nil
}

// ErrClaimLost is returned when a notice's outcome cannot be recorded
// because its claim expired and another worker took it over.
var ErrClaimLost = errors.New("store: notice claim lost")

// MarkDelivered records a 2xx answer.
func (s *Store) MarkDelivered(ctx context.Context, n Notice, at time.Time, status int) error {
	return s.markNotice(ctx, `UPDATE outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = $3,
		last_status = $4, last_error = '', claim = '' WHERE id = $1 AND claim = $2 AND status = 'pending'`,
		n.ID, n.Claim, at, status)
}

// MarkRetry records a failed attempt and schedules the next one.
func (s *Store) MarkRetry(ctx context.Context, n Notice, next time.Time, status int, reason string) error {
	return s.markNotice(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $3,
		last_status = nullif($4, 0), last_error = $5, claim = '' WHERE id = $1 AND claim = $2 AND status = 'pending'`,
		n.ID, n.Claim, next, status, reason)
}

// MarkUndelivered gives a notice up for good (a 4xx, or too old); it stays
// in the outbox, visible to the operator. attempted says whether a call was
// made this time (and so counts as an attempt).
func (s *Store) MarkUndelivered(ctx context.Context, n Notice, attempted bool, status int, reason string) error {
	inc := 0
	if attempted {
		inc = 1
	}
	return s.markNotice(ctx, `UPDATE outbox SET status = 'undelivered', attempts = attempts + $3,
		last_status = coalesce(nullif($4, 0), last_status), last_error = $5, claim = ''
		WHERE id = $1 AND claim = $2 AND status = 'pending'`,
		n.ID, n.Claim, inc, status, reason)
}

func (s *Store) markNotice(ctx context.Context, sql string, args ...any) error {
	tag, err := s.Pool.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("store: outbox update: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrClaimLost
	}
	return nil
}

// OutboxStats are the notice counts of one DSP. Pending includes Retrying.
type OutboxStats struct {
	DSP         string `json:"dsp"`
	Pending     int64  `json:"pending"`
	Retrying    int64  `json:"retrying"` // pending with at least one failed attempt
	Delivered   int64  `json:"delivered"`
	Undelivered int64  `json:"undelivered"`
	// AtRiskClicks is the billed value (ADS clicks) of views whose burl was
	// undelivered: owed by the DSP, but not acknowledged by it.
	AtRiskClicks int64 `json:"at_risk_clicks"`
	// AtRiskNanoUSD is what those views cost the DSP, in nano-USD
	// (one view at a CPM of p micro-USD costs p nano-USD).
	AtRiskNanoUSD int64      `json:"at_risk_nano_usd"`
	OldestPending *time.Time `json:"oldest_pending,omitempty"`
}

// OutboxStatsByDSP counts notices per DSP and status (a full scan: for the
// operator, not for hot paths).
func (s *Store) OutboxStatsByDSP(ctx context.Context) ([]OutboxStats, error) {
	return s.outboxStats(ctx, "")
}

// OpenOutboxByDSP is OutboxStatsByDSP without the delivered notices
// (Delivered stays 0): it reads only open rows, through the partial index
// outbox_open, so it stays cheap however many notices were delivered.
func (s *Store) OpenOutboxByDSP(ctx context.Context) ([]OutboxStats, error) {
	return s.outboxStats(ctx, "WHERE o.status <> 'delivered'")
}

func (s *Store) outboxStats(ctx context.Context, where string) ([]OutboxStats, error) {
	rows, err := s.Pool.Query(ctx, `SELECT o.dsp,
		count(*) FILTER (WHERE o.status = 'pending'),
		count(*) FILTER (WHERE o.status = 'pending' AND o.attempts > 0),
		count(*) FILTER (WHERE o.status = 'delivered'),
		count(*) FILTER (WHERE o.status = 'undelivered'),
		coalesce(sum(e.value) FILTER (WHERE o.status = 'undelivered' AND o.kind = 'burl'), 0)::bigint,
		coalesce(sum(e.price_micros) FILTER (WHERE o.status = 'undelivered' AND o.kind = 'burl'), 0)::bigint,
		min(o.created_at) FILTER (WHERE o.status = 'pending')
		FROM outbox o LEFT JOIN events e ON e.id = o.event_id `+where+`
		GROUP BY o.dsp ORDER BY o.dsp`)
	if err != nil {
		return nil, fmt.Errorf("store: outbox stats: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxStats, error) {
		var st OutboxStats
		err := r.Scan(&st.DSP, &st.Pending, &st.Retrying, &st.Delivered, &st.Undelivered,
			&st.AtRiskClicks, &st.AtRiskNanoUSD, &st.OldestPending)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox stats: %w", err)
	}
	return out, nil
}

// OutboxBacklog is the pending part of the outbox, cheap enough for /readyz.
type OutboxBacklog struct {
	Pending       int64      `json:"pending"`
	Retrying      int64      `json:"retrying"`
	OldestPending *time.Time `json:"oldest_pending,omitempty"`
}

// Backlog counts pending notices (through the partial index on pending rows).
func (s *Store) Backlog(ctx context.Context) (OutboxBacklog, error) {
	var b OutboxBacklog
	err := s.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE attempts > 0), min(created_at)
		FROM outbox WHERE status = 'pending'`).Scan(&b.Pending, &b.Retrying, &b.OldestPending)
	if err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	return b, nil
}

// NoticeRow is an outbox row as stored (tests, operator tools).
type NoticeRow struct {
	ID          int64
	ExtID       string
	DSP         string
	Kind        string
	URL         string
	Status      string
	Attempts    int
	LastStatus  *int
	LastError   string
	NextAttempt time.Time
	CreatedAt   time.Time
	DeliveredAt *time.Time
}

// NoticesOf returns the outbox rows of an ext_id.
func (s *Store) NoticesOf(ctx context.Context, extID string) ([]NoticeRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, ext_id, dsp, kind, url, status, attempts, last_status, last_error,
		next_attempt_at, created_at, delivered_at FROM outbox WHERE ext_id = $1 ORDER BY id`, extID)
	if err != nil {
		return nil, fmt.Errorf("store: notices of %s: %w", extID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NoticeRow, error) {
		var n NoticeRow
		err := r.Scan(&n.ID, &n.ExtID, &n.DSP, &n.Kind, &n.URL, &n.Status, &n.Attempts, &n.LastStatus,
			&n.LastError, &n.NextAttempt, &n.CreatedAt, &n.DeliveredAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: notices of %s: %w", extID, err)
	}
	return out, nil
}
