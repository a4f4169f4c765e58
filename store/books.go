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

// reportRows is the WHERE clause of a report's rows ($1..$3: id and the
// created_at bounds of its rows), or of its period's unsettled billed
// views ($2, $3: the period) when provisional.
func reportRows(r *Report, provisional bool) (string, []any, bool) {
	if provisional {
		return `e.report_id IS NULL AND e.type = 'view' AND e.value > 0 AND e.created_at >= $1 AND e.created_at < $2`,
			[]any{r.PeriodStart, r.PeriodEnd}, true
	}
	if r.EventsFrom == nil || r.EventsTo == nil {
		return "", nil, false // no rows
	}
	return `e.report_id = $1 AND e.created_at >= $2 AND e.created_at <= $3`, []any{r.ID, *r.EventsFrom, *r.EventsTo}, true
}

const billedViewsSQL = `SELECT e.id, e.case_id, e.ext_id, e.dsp, e.price_micros, e.rate_nanos, e.fee_ppm, e.value, e.created_at
	FROM events e WHERE `

// BilledViews returns a report's rows in position order (event id order for
// a provisional list). A processing report has no rows yet; with
// provisional set, its period's unsettled billed views are returned instead.
func (s *Store) BilledViews(ctx context.Context, r *Report, provisional bool) ([]BilledView, error) {
	where, args, ok := reportRows(r, provisional)
	if !ok {
		return nil, nil
	}
	rows, err := s.Pool.Query(ctx, billedViewsSQL+where+` ORDER BY e.report_seq, e.id`, args...)
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
	AtRisk      int64 // sum of micro-USD CPM prices of billed views whose burl is undelivered (burls created in the range)
	// AdjustmentMin and AdjustmentMax are the lowest and highest bid
	// adjustment (parts per million) of the billed views' wins; 0 when
	// there are none.
	AdjustmentMin, AdjustmentMax int64
}

const reportTotalsSQL = `SELECT e.dsp, count(*), coalesce(sum(e.value), 0)::bigint,
		coalesce(sum(e.price_micros), 0)::bigint, 0::bigint, 0::bigint,
		coalesce(min(e.bid_adjustment_ppm), 0), coalesce(max(e.bid_adjustment_ppm), 0)
	FROM events e WHERE `

// ReportDSPTotals sums a report's billed views per DSP (or, provisional, the
// unsettled billed views of its period).
func (s *Store) ReportDSPTotals(ctx context.Context, r *Report, provisional bool) ([]DSPTotal, error) {
	where, args, ok := reportRows(r, provisional)
	if !ok {
		return nil, nil
	}
	return s.dspTotals(ctx, reportTotalsSQL+where+` GROUP BY e.dsp ORDER BY e.dsp`, args...)
}

// dspSpendSQL sums the billed views recorded in [$1, $2) per DSP, and the
// undelivered notices created in that range with what their billed views
// are worth (copied onto each burl): two scans of the range's partitions,
// no join between the tables.
const dspSpendSQL = `WITH billed AS (
		SELECT dsp, count(*) AS views, sum(value) AS value, sum(price_micros) AS price,
			min(bid_adjustment_ppm) AS adj_min, max(bid_adjustment_ppm) AS adj_max
		FROM events WHERE type = 'view' AND value > 0 AND created_at >= $1 AND created_at < $2
		GROUP BY dsp),
	failed AS (
		SELECT dsp, count(*) AS undelivered,
			sum(billed_price_micros) FILTER (WHERE kind = 'burl') AS at_risk
		FROM outbox WHERE status = 'undelivered' AND created_at >= $1 AND created_at < $2 GROUP BY dsp)
	SELECT coalesce(b.dsp, f.dsp), coalesce(b.views, 0), coalesce(b.value, 0)::bigint, coalesce(b.price, 0)::bigint,
		coalesce(f.undelivered, 0), coalesce(f.at_risk, 0)::bigint,
		coalesce(b.adj_min, 0), coalesce(b.adj_max, 0)
	FROM billed b FULL JOIN failed f ON f.dsp = b.dsp ORDER BY 1`

// DSPSpend sums, per DSP, the billed views recorded in [from, to), the
// undelivered notices created in that range and the spend of the billed
// views those undelivered burls belong to (at risk, DECISIONS §10).
func (s *Store) DSPSpend(ctx context.Context, from, to time.Time) ([]DSPTotal, error) {
	return s.dspTotals(ctx, dspSpendSQL, from, to)
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

// Verified is what VerifyPayments looked at.
type Verified struct {
	Reports int // reports recomputed from their rows
	// Archived reports lost some rows to retention (outside
	// payments.window): their totals are kept, they are not recomputed.
	Archived int
	Events   int64 // billed views recorded in the range, each value recomputed
}

// verifyReportsSQL lists the reports whose period starts in [$1, $2).
const verifyReportsSQL = `SELECT id, status, value, views, stamped_views, stamped_value, events_from, events_to,
	details_dropped_at IS NOT NULL FROM payment_reports WHERE period_start >= $1 AND period_start < $2 ORDER BY id`

// verifyRowsSQL recomputes one report from its rows (in the partitions
// that hold them): sum, count, and positions 1..n without a gap.
const verifyRowsSQL = `SELECT coalesce(sum(value), 0)::bigint, count(*),
	coalesce(min(report_seq) = 1 AND max(report_seq) = count(*) AND count(report_seq) = count(*) AND count(DISTINCT report_seq) = count(*), true)
	FROM events WHERE report_id = $1 AND created_at >= $2 AND created_at <= $3`

// verifyEventsSQL recomputes the value of every billed view recorded in
// [$1, $2) with the same formula as ads.ViewValueAfterFee, in exact numeric
// arithmetic, so a billion events are checked without leaving the
// database: floor(price × (1e6 − fee) × 1e5 / rate).
const verifyEventsSQL = `SELECT id, report_id, value, coalesce(want::text, 'not billable'), in_report_not_billed
	FROM (SELECT id, coalesce(report_id, 0) AS report_id, value,
			CASE WHEN type = 'view' AND rate_nanos > 0 AND fee_ppm >= 0 AND fee_ppm < 1000000
				THEN div(price_micros::numeric * (1000000 - fee_ppm) * 100000, rate_nanos) END AS want,
			report_id IS NOT NULL AND (type <> 'view' OR value <= 0) AS in_report_not_billed
		FROM events WHERE (value > 0 OR report_id IS NOT NULL) AND created_at >= $1 AND created_at < $2) e
	WHERE in_report_not_billed OR (value > 0 AND want IS DISTINCT FROM value)
	ORDER BY id LIMIT 10000`

// countBilledSQL counts the billed views recorded in [$1, $2).
const countBilledSQL = `SELECT count(*) FROM events WHERE value > 0 AND created_at >= $1 AND created_at < $2`

// VerifyPayments recomputes every report whose period starts in [from, to)
// from its rows, and the value of every billed view recorded in [from, to)
// from its stored price, rate and fee, and returns every mismatch (none when the
// books are consistent). Reports whose rows retention dropped in part are
// counted as archived, not recomputed.
func (s *Store) VerifyPayments(ctx context.Context, from, to time.Time) ([]Mismatch, Verified, error) {
	var out []Mismatch
	var ver Verified
	type rep struct {
		id, views, stampedViews, stampedValue int64
		status                                string
		value                                 *int64
		lo, hi                                *time.Time
		archived                              bool
	}
	rows, err := s.Pool.Query(ctx, verifyReportsSQL, from, to)
	if err != nil {
		return nil, ver, fmt.Errorf("store: verify: %w", err)
	}
	reps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rep, error) {
		var r rep
		err := row.Scan(&r.id, &r.status, &r.value, &r.views, &r.stampedViews, &r.stampedValue, &r.lo, &r.hi, &r.archived)
		return r, err
	})
	if err != nil {
		return nil, ver, fmt.Errorf("store: verify: %w", err)
	}
	for _, r := range reps {
		if r.archived {
			ver.Archived++
			continue
		}
		ver.Reports++
		var sumValue, sumViews int64
		seqOK := true
		if r.lo != nil && r.hi != nil {
			// One query per report, with its bounds as values: it is planned
			// (and locks) only the partitions that hold the report's rows.
			if err := s.Pool.QueryRow(ctx, verifyRowsSQL, r.id, *r.lo, *r.hi).Scan(&sumValue, &sumViews, &seqOK); err != nil {
				return nil, ver, fmt.Errorf("store: verify report %d: %w", r.id, err)
			}
		}
		out = append(out, checkReport(r.id, r.status, r.value, r.views, r.stampedViews, r.stampedValue, sumValue, sumViews, seqOK)...)
	}

	if err := s.Pool.QueryRow(ctx, countBilledSQL, from, to).Scan(&ver.Events); err != nil {
		return nil, ver, fmt.Errorf("store: verify events: %w", err)
	}
	rows, err = s.Pool.Query(ctx, verifyEventsSQL, from, to)
	if err != nil {
		return nil, ver, fmt.Errorf("store: verify events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, reportID, value int64
		var want string
		var notBilled bool
		if err := rows.Scan(&id, &reportID, &value, &want, &notBilled); err != nil {
			return nil, ver, fmt.Errorf("store: verify events: %w", err)
		}
		m := Mismatch{ReportID: reportID, EventID: id, Problem: "event value differs from price x (1 - fee) / rate",
			Want: want, Got: strconv.FormatInt(value, 10)}
		if notBilled {
			m.Problem, m.Want = "event in a report is not a billed view", "a view with value > 0"
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, ver, fmt.Errorf("store: verify events: %w", err)
	}
	return out, ver, nil
}

// checkReport compares a report with the sum, count and positions of its rows.
func checkReport(id int64, status string, value *int64, views, stampedViews, stampedValue, sumValue, sumViews int64, seqOK bool) []Mismatch {
	var out []Mismatch
	switch {
	case status != StatusDone && (sumViews != stampedViews || sumValue != stampedValue):
		// A report being settled in chunks has the rows of its chunks so far.
		out = append(out, Mismatch{ReportID: id, Problem: "processing report's rows differ from its settlement progress",
			Want: fmt.Sprintf("%d rows, %d clicks", stampedViews, stampedValue), Got: fmt.Sprintf("%d rows, %d clicks", sumViews, sumValue)})
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
	}
	if !seqOK {
		// Positions 1..views with no gap are what makes paging exact.
		out = append(out, Mismatch{ReportID: id, Problem: "report rows are not numbered 1..views",
			Want: "1.." + strconv.FormatInt(sumViews, 10), Got: "gaps, repeats or missing positions"})
	}
	return out
}
