package bench

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// The chaos run's reconciliation beyond the bench's books: what became of
// the burl of every view answered 204, and whether the payment reports add
// up to exactly what was billed.

// ChaosNotices is the fate of the burls of the views answered 204.
type ChaosNotices struct {
	Delivered             int64            `json:"delivered"`
	UndeliveredWithReason int64            `json:"undelivered_with_reason"` // given up with a reason (a refused redirect): the expected end of a hostile URL
	UndeliveredNoReason   int64            `json:"undelivered_no_reason"`   // given up without one: lost
	Pending               int64            `json:"pending"`                 // still pending after the drain
	Missing               int64            `json:"missing"`                 // no burl at all
	OutboxPending         int64            `json:"outbox_pending"`          // every kind (nurl, burl, imp), after the drain
	Reasons               map[string]int64 `json:"reasons"`                 // every notice given up, by its reason (digits as N)
}

// ChaosPayments compares the payment reports with the billed views.
type ChaosPayments struct {
	Reports       int64 `json:"reports_done"`
	BilledViews   int64 `json:"billed_views"`
	BilledValue   int64 `json:"billed_value_clicks"`
	ReportedViews int64 `json:"reported_views"`
	ReportedValue int64 `json:"reported_value_clicks"`
	Unsettled     int64 `json:"unsettled"`  // billed views in no done report after the wait
	Mismatched    int64 `json:"mismatched"` // done reports whose value or views differ from their rows
}

var digits = regexp.MustCompile(`[0-9]+`)

// checkNotices reads the burls of bench_views (the views answered 204,
// left by checkBooks on the same connection) and the outbox as a whole.
func checkNotices(ctx context.Context, db *pgx.Conn) (ChaosNotices, error) {
	n := ChaosNotices{Reasons: map[string]int64{}}
	err := db.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE o.status = 'delivered'),
			count(*) FILTER (WHERE o.status = 'undelivered' AND o.last_error <> ''),
			count(*) FILTER (WHERE o.status = 'undelivered' AND o.last_error = ''),
			count(*) FILTER (WHERE o.status = 'pending'),
			count(*) FILTER (WHERE o.id IS NULL),
			(SELECT count(*) FROM outbox WHERE status = 'pending')
		FROM (SELECT DISTINCT ext_id FROM bench_views) v LEFT JOIN outbox o ON o.ext_id = v.ext_id AND o.kind = 'burl'`).
		Scan(&n.Delivered, &n.UndeliveredWithReason, &n.UndeliveredNoReason, &n.Pending, &n.Missing, &n.OutboxPending)
	if err != nil {
		return n, fmt.Errorf("bench: chaos books: %w", err)
	}
	rows, err := db.Query(ctx, `SELECT last_error, count(*) FROM outbox WHERE status = 'undelivered' GROUP BY 1`)
	if err != nil {
		return n, fmt.Errorf("bench: chaos books: %w", err)
	}
	var reason string
	var count int64
	_, err = pgx.ForEachRow(rows, []any{&reason, &count}, func() error {
		if reason == "" {
			reason = "(none)"
		}
		n.Reasons[digits.ReplaceAllString(reason, "N")] += count
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("bench: chaos books: %w", err)
	}
	return n, nil
}

// checkPayments waits (at most limit) for every billed view to be settled
// on a done report, then compares the reports with their rows and the
// billed views.
func checkPayments(ctx context.Context, db func() *pgx.Conn, limit time.Duration) (ChaosPayments, error) {
	var p ChaosPayments
	deadline := time.Now().Add(limit)
	for {
		err := db().QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'view' AND value > 0 AND report_id IS NULL`).Scan(&p.Unsettled)
		if err != nil {
			return p, fmt.Errorf("bench: payments: %w", err)
		}
		if p.Unsettled == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	err := db().QueryRow(ctx, `SELECT
			(SELECT count(*) FROM events WHERE type = 'view' AND value > 0),
			(SELECT coalesce(sum(value), 0) FROM events WHERE type = 'view' AND value > 0),
			(SELECT count(*) FROM payment_reports WHERE status = 'done'),
			(SELECT coalesce(sum(views), 0) FROM payment_reports WHERE status = 'done'),
			(SELECT coalesce(sum(value), 0) FROM payment_reports WHERE status = 'done'),
			(SELECT count(*) FROM payment_reports r WHERE r.status = 'done' AND (
				r.value IS DISTINCT FROM (SELECT coalesce(sum(e.value), 0) FROM events e WHERE e.report_id = r.id) OR
				r.views <> (SELECT count(*) FROM events e WHERE e.report_id = r.id)))`).
		Scan(&p.BilledViews, &p.BilledValue, &p.Reports, &p.ReportedViews, &p.ReportedValue, &p.Mismatched)
	if err != nil {
		return p, fmt.Errorf("bench: payments: %w", err)
	}
	return p, nil
}

func (p ChaosPayments) problems() []string {
	var out []string
	if p.Unsettled > 0 {
		out = append(out, fmt.Sprintf("%d billed view(s) on no done payment report after the wait", p.Unsettled))
	}
	if p.Mismatched > 0 {
		out = append(out, fmt.Sprintf("%d payment report(s) whose value or views differ from their rows", p.Mismatched))
	}
	if p.ReportedValue != p.BilledValue || p.ReportedViews != p.BilledViews {
		out = append(out, fmt.Sprintf("payment reports sum to %d clicks over %d views, billed %d clicks over %d views",
			p.ReportedValue, p.ReportedViews, p.BilledValue, p.BilledViews))
	}
	return out
}

func (n ChaosNotices) problems() []string {
	var out []string
	add := func(v int64, format string) {
		if v > 0 {
			out = append(out, fmt.Sprintf(format, v))
		}
	}
	add(n.UndeliveredNoReason, "%d burl(s) of answered views given up without a reason")
	add(n.Pending, "%d burl(s) of answered views still pending after the drain")
	add(n.Missing, "%d answered view(s) without a burl")
	add(n.OutboxPending, "%d notice(s) of any kind still pending after the drain")
	return out
}
