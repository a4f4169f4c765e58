// The operator's books: per-DSP totals, billed views for audit, and a full
// recomputation of every report (bridge payments ...).

package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// BilledView is a billed view with what the operator needs to audit it.
type BilledView struct {
	EventID     int64
	CaseID      string
	ExtID       string
	DSP         string
	PriceMicros int64 // micro-USD CPM
	RateNanos   int64 // nano-USD per ADS
	FeePPM      int64 // the operator's fee, parts per million
	Value       int64 // ADS clicks
	CreatedAt   time.Time
}

// BilledViews returns a report's rows in event id order. A processing report
// has no rows yet; with provisional set, its period's unsettled billed views
// are returned instead.
func (s *Store) BilledViews(ctx context.Context, r *Report, provisional bool) ([]BilledView, error) {
	where, args := `e.report_id = $1`, []any{r.ID}
	if provisional {
		where, args = `e.report_id IS NULL AND e.type = 'view' AND e.value > 0 AND e.created_at >= $1 AND e.created_at < $2`,
			[]any{r.PeriodStart, r.PeriodEnd}
	}
	rows, err := s.Pool.Query(ctx, `SELECT e.id, e.case_id, e.ext_id, a.dsp, e.price_micros, e.rate_nanos, e.fee_ppm, e.value, e.created_at
		FROM events e JOIN auctions a USING (ext_id) WHERE `+where+` ORDER BY e.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: billed views: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BilledView, error) {
		var v BilledView
		err := row.Scan(&v.EventID, &v.CaseID, &v.ExtID, &v.DSP, &v.PriceMicros, &v.RateNanos, &v.FeePPM, &v.Value, &v.CreatedAt)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: billed views: %w", err)
	}
	return out, nil
}

// DSPTotal sums billed views per DSP. Money stays integer: PriceMicros is the
// sum of micro-USD CPM prices (spend in micro-USD = PriceMicros / 1000).
type DSPTotal struct {
	DSP         string
	Views       int64
	Value       int64 // ADS clicks owed to the AdServer
	PriceMicros int64 // sum of micro-USD CPM prices
	Undelivered int64 // notices to the DSP that could not be delivered
	AtRisk      int64 // sum of micro-USD CPM prices of billed views whose burl is undelivered
	// AdjustmentMin and AdjustmentMax are the lowest and highest bid
	// adjustment (parts per million) of the billed views' wins; 0 when
	// there are none.
	AdjustmentMin, AdjustmentMax int64
}

// ReportDSPTotals sums a report's billed views per DSP (or, provisional, the
// unsettled billed views of its period).
func (s *Store) ReportDSPTotals(ctx context.Context, r *Report, provisional bool) ([]DSPTotal, error) {
	where, args := `e.report_id = $1`, []any{r.ID}
	if provisional {
		where, args = `e.report_id IS NULL AND e.type = 'view' AND e.value > 0 AND e.created_at >= $1 AND e.created_at < $2`,
			[]any{r.PeriodStart, r.PeriodEnd}
	}
	return s.dspTotals(ctx, `SELECT a.dsp, count(*), coalesce(sum(e.value), 0)::bigint,
			coalesce(sum(e.price_micros), 0)::bigint, 0::bigint, 0::bigint,
			coalesce(min(a.bid_adjustment_ppm), 0), coalesce(max(a.bid_adjustment_ppm), 0)
		FROM events e JOIN auctions a USING (ext_id) WHERE `+where+` GROUP BY a.dsp ORDER BY a.dsp`, args...)
}

// DSPSpend sums, per DSP, the billed views recorded in [from, to), the
// undelivered notices created in that range and the billed views at risk
// because their burl was never delivered (DECISIONS §10).
func (s *Store) DSPSpend(ctx context.Context, from, to time.Time) ([]DSPTotal, error) {
	return s.dspTotals(ctx, `WITH billed AS (
			SELECT a.dsp, count(*) AS views, sum(e.value) AS value, sum(e.price_micros) AS price,
				sum(e.price_micros) FILTER (WHERE o.status = 'undelivered') AS at_risk,
				min(a.bid_adjustment_ppm) AS adj_min, max(a.bid_adjustment_ppm) AS adj_max
			FROM events e JOIN auctions a USING (ext_id)
			LEFT JOIN outbox o ON o.ext_id = e.ext_id AND o.kind = 'burl'
			WHERE e.type = 'view' AND e.value > 0 AND e.created_at >= $1 AND e.created_at < $2
			GROUP BY a.dsp),
		failed AS (
			SELECT dsp, count(*) AS undelivered FROM outbox
			WHERE status = 'undelivered' AND created_at >= $1 AND created_at < $2 GROUP BY dsp)
		SELECT coalesce(b.dsp, f.dsp), coalesce(b.views, 0), coalesce(b.value, 0)::bigint, coalesce(b.price, 0)::bigint,
			coalesce(f.undelivered, 0), coalesce(b.at_risk, 0)::bigint,
			coalesce(b.adj_min, 0), coalesce(b.adj_max, 0)
		FROM billed b FULL JOIN failed f ON f.dsp = b.dsp ORDER BY 1`, from, to)
}

func (s *Store) dspTotals(ctx context.Context, sql string, args ...any) ([]DSPTotal, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: dsp totals: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DSPTotal, error) {
		var t DSPTotal
		err := row.Scan(&t.DSP, &t.Views, &t.Value, &t.PriceMicros, &t.Undelivered, &t.AtRisk, &t.AdjustmentMin, &t.AdjustmentMax)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: dsp totals: %w", err)
	}
	return out, nil
}

// Mismatch is one inconsistency found by VerifyPayments.
type Mismatch struct {
	ReportID int64  // 0 when about a single event only
	EventID  int64  // 0 when about a whole report
	Problem  string // what is wrong, for the operator
	Want     string // what the events say it should be
	Got      string // what is stored
}

// VerifyPayments recomputes every done report from its events, and every
// billed view's value from its stored price, rate and fee, and returns
// every mismatch (none when the books are consistent).
func (s *Store) VerifyPayments(ctx context.Context) ([]Mismatch, int, error) {
	var out []Mismatch
	var reports int
	rows, err := s.Pool.Query(ctx, `SELECT r.id, r.status, r.value, r.views,
			coalesce(e.value, 0)::bigint, coalesce(e.views, 0),
			coalesce(e.seq_ok, true)
		FROM payment_reports r
		LEFT JOIN (SELECT report_id, sum(value) AS value, count(*) AS views,
				coalesce(min(report_seq) = 1 AND max(report_seq) = count(*) AND count(report_seq) = count(*), false) AS seq_ok
			FROM events WHERE report_id IS NOT NULL GROUP BY report_id) e ON e.report_id = r.id
		ORDER BY r.id`)
	if err != nil {
		return nil, 0, fmt.Errorf("store: verify: %w", err)
	}
	for rows.Next() {
		var id, views, sumValue, sumViews int64
		var status string
		var value *int64
		var seqOK bool
		if err := rows.Scan(&id, &status, &value, &views, &sumValue, &sumViews, &seqOK); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("store: verify: %w", err)
		}
		reports++
		switch {
		case status != StatusDone && sumViews > 0:
			out = append(out, Mismatch{ReportID: id, Problem: "processing report already has settled events",
				Want: "0 events", Got: fmt.Sprintf("%d events", sumViews)})
		case status == StatusDone && (value == nil || *value != sumValue):
			got := "null"
			if value != nil {
				got = strconv.FormatInt(*value, 10)
			}
			out = append(out, Mismatch{ReportID: id, Problem: "report value differs from the sum of its events",
				Want: strconv.FormatInt(sumValue, 10), Got: got})
		case status == StatusDone && views != sumViews:
			out = append(out, Mismatch{ReportID: id, Problem: "report views differ from the number of its events",
				Want: strconv.FormatInt(sumViews, 10), Got: strconv.FormatInt(views, 10)})
		case !seqOK:
			// Positions 1..views with no gap are what makes paging exact.
			out = append(out, Mismatch{ReportID: id, Problem: "report rows are not numbered 1..views",
				Want: "1.." + strconv.FormatInt(sumViews, 10), Got: "gaps or missing positions"})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: verify: %w", err)
	}

	// The same formula as ads.ViewValueAfterFee, in exact numeric
	// arithmetic, so a billion events are checked without leaving the
	// database: floor(price × (1e6 − fee) × 1e5 / rate).
	rows, err = s.Pool.Query(ctx, `SELECT id, report_id, value, coalesce(want::text, 'not billable'), in_report_not_billed
		FROM (SELECT id, coalesce(report_id, 0) AS report_id, value,
				CASE WHEN type = 'view' AND rate_nanos > 0 AND fee_ppm >= 0 AND fee_ppm < 1000000
					THEN div(price_micros::numeric * (1000000 - fee_ppm) * 100000, rate_nanos) END AS want,
				report_id IS NOT NULL AND (type <> 'view' OR value <= 0) AS in_report_not_billed
			FROM events WHERE value > 0 OR report_id IS NOT NULL) e
		WHERE in_report_not_billed OR (value > 0 AND want IS DISTINCT FROM value)
		ORDER BY id LIMIT 10000`)
	if err != nil {
		return nil, 0, fmt.Errorf("store: verify events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, reportID, value int64
		var want string
		var notBilled bool
		if err := rows.Scan(&id, &reportID, &value, &want, &notBilled); err != nil {
			return nil, 0, fmt.Errorf("store: verify events: %w", err)
		}
		m := Mismatch{ReportID: reportID, EventID: id, Problem: "event value differs from price x (1 - fee) / rate",
			Want: want, Got: strconv.FormatInt(value, 10)}
		if notBilled {
			m.Problem, m.Want = "event in a report is not a billed view", "a view with value > 0"
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: verify events: %w", err)
	}
	return out, reports, nil
}
