package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reading the outbox: the counts per DSP of bridge outbox status and the
// metrics scrape, the backlog of /readyz, and the rows of one ext_id.

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

// outboxStatsSQL counts the notices created in [$1, $2) per DSP and
// status. What an undelivered burl puts at risk is on its own row.
const outboxStatsSQL = `SELECT dsp,
	count(*) FILTER (WHERE status = 'pending'),
	count(*) FILTER (WHERE status = 'pending' AND attempts > 0),
	count(*) FILTER (WHERE status = 'delivered'),
	count(*) FILTER (WHERE status = 'undelivered'),
	coalesce(sum(billed_value) FILTER (WHERE status = 'undelivered' AND kind = 'burl'), 0)::bigint,
	coalesce(sum(billed_price_micros) FILTER (WHERE status = 'undelivered' AND kind = 'burl'), 0)::bigint,
	min(created_at) FILTER (WHERE status = 'pending')
	FROM outbox WHERE created_at >= $1 AND created_at < $2 %s
	GROUP BY dsp ORDER BY dsp`

// OutboxStats counts the notices created in [from, to) per DSP and status
// (bridge outbox status): it reads only the partitions of the range.
func (s *Store) OutboxStats(ctx context.Context, from, to time.Time) ([]OutboxStats, error) {
	return s.outboxStats(ctx, fmt.Sprintf(outboxStatsSQL, ""), from, to)
}

// OutboxStatsByDSP counts every notice ever made (the demo and tests; an
// operator asks OutboxStats for a range).
func (s *Store) OutboxStatsByDSP(ctx context.Context) ([]OutboxStats, error) {
	return s.OutboxStats(ctx, epoch, time.Now().AddDate(100, 0, 0))
}

// openOutboxSQL is outboxStatsSQL without the delivered notices: it reads
// only open rows of the range, through the partial index outbox_open_due, so
// the metrics scrape stays cheap however many notices were delivered.
var openOutboxSQL = fmt.Sprintf(outboxStatsSQL, "AND status <> 'delivered'")

// OpenOutboxByDSP is OutboxStats of the open notices (Delivered stays 0)
// created since since: what the metrics scrape reads.
func (s *Store) OpenOutboxByDSP(ctx context.Context, since time.Time) ([]OutboxStats, error) {
	return s.outboxStats(ctx, openOutboxSQL, since, time.Now().AddDate(100, 0, 0))
}

func (s *Store) outboxStats(ctx context.Context, sql string, from, to time.Time) ([]OutboxStats, error) {
	rows, err := s.Pool.Query(ctx, sql, from, to)
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

// backlogSQL counts pending notices created since $1 (through the partial
// index on pending rows).
const backlogSQL = `SELECT count(*), count(*) FILTER (WHERE attempts > 0), min(created_at)
	FROM outbox WHERE status = 'pending' AND created_at >= $1`

// Backlog counts the pending notices created since since.
func (s *Store) Backlog(ctx context.Context, since time.Time) (OutboxBacklog, error) {
	var b OutboxBacklog
	err := s.Pool.QueryRow(ctx, backlogSQL, since).Scan(&b.Pending, &b.Retrying, &b.OldestPending)
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

// NoticesOf returns the outbox rows of an ext_id (every partition: tests
// and operator tools).
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
