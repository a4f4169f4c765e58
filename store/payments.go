package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxReportID is one past the largest payment report id: ids are at most 18
// decimal digits (the AdServer's txid is char(18)).
const MaxReportID = 1_000_000_000_000_000_000

// maxNewReports bounds how many periods one call opens, so a misconfigured
// clock or period cannot make one giant statement.
const maxNewReports = 100_000

// Report statuses.
const (
	StatusProcessing = "processing"
	StatusDone       = "done"
)

// Settings keys written by other parts of the bridge.
const (
	SettingFirstStart              = "first_start"
	SettingInventoryFirstFetchedAt = "inventory_first_fetched_at"
)

// Report is one payment report: the billed views of one period.
type Report struct {
	ID          int64
	PeriodStart time.Time
	PeriodEnd   time.Time
	Status      string
	Value       *int64 // ADS clicks; nil while processing
	Views       int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ReportID returns the id of the period starting at unix second start, and
// refuses anything that is not 0..18 decimal digits.
func ReportID(start int64) (int64, error) {
	if start < 0 || start >= MaxReportID {
		return 0, fmt.Errorf("store: period start %d gives a report id longer than 18 digits", start)
	}
	return start, nil
}

// EnsureFirstStart records now as the bridge's first start unless one is
// stored, and returns the stored one.
func (s *Store) EnsureFirstStart(ctx context.Context, now time.Time) (time.Time, error) {
	if _, err := s.Pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		// ATOM with +00:00, the form the inventory reads it back in.
		SettingFirstStart, now.UTC().Format("2006-01-02T15:04:05")+"+00:00"); err != nil {
		return time.Time{}, fmt.Errorf("store: first start: %w", err)
	}
	var value string
	var updated time.Time
	err := s.Pool.QueryRow(ctx, `SELECT value, updated_at FROM settings WHERE key = $1`, SettingFirstStart).Scan(&value, &updated)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: first start: %w", err)
	}
	return parseSettingTime(value, updated), nil
}

// parseSettingTime reads a time another component stored in settings,
// whatever its form (ATOM/RFC 3339, with or without fractions, or unix
// seconds), falling back to when the row was written.
func parseSettingTime(value string, updated time.Time) time.Time {
	value = strings.TrimSpace(value)
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(value, 10, 64); err == nil {
		return time.Unix(n, 0)
	}
	return updated
}

// InventoryFetched reports whether the AdServer has fetched /inventory at
// least once (it is registered then, so "done" reports are safe to show).
func (s *Store) InventoryFetched(ctx context.Context) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM settings WHERE key = $1)`, SettingInventoryFirstFetchedAt).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: inventory fetched: %w", err)
	}
	return ok, nil
}

// OpenReports creates the report of every period from where the reports
// stop (or, before the first one, from the period of the first start or of
// the oldest unsettled billed view) up to the period containing now, so ids
// are contiguous. Periods are aligned to multiples of period since the unix
// epoch. Concurrent callers are safe: a period's id is its primary key.
func (s *Store) OpenReports(ctx context.Context, period time.Duration, firstStart, now time.Time) (int, error) {
	p := int64(period / time.Second)
	if p < 1 || period%time.Second != 0 {
		return 0, fmt.Errorf("store: payment period %s is not whole seconds", period)
	}
	var lastEnd, oldestView *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT (SELECT max(period_end) FROM payment_reports),
		(SELECT min(created_at) FROM events WHERE report_id IS NULL AND type = 'view' AND value > 0)`).Scan(&lastEnd, &oldestView)
	if err != nil {
		return 0, fmt.Errorf("store: open reports: %w", err)
	}
	var from int64
	if lastEnd != nil {
		// Round up: after a change of period the new grid starts at or after
		// the last report's end; views in a gap go to the next report.
		from = ceilDiv(lastEnd.Unix(), p) * p
	} else {
		start := firstStart
		if oldestView != nil && oldestView.Before(start) {
			start = *oldestView
		}
		from = floorDiv(start.Unix(), p) * p
	}
	to := floorDiv(now.Unix(), p) * p
	if to < from {
		return 0, nil
	}
	if (to-from)/p >= maxNewReports {
		to = from + (maxNewReports-1)*p
	}
	if _, err := ReportID(from); err != nil {
		return 0, err
	}
	if _, err := ReportID(to); err != nil {
		return 0, err
	}
	tag, err := s.Pool.Exec(ctx, `INSERT INTO payment_reports (id, period_start, period_end, created_at, updated_at)
		SELECT g, to_timestamp(g), to_timestamp(g + $3::bigint), $4, $4 FROM generate_series($1::bigint, $2::bigint, $3::bigint) AS g
		ON CONFLICT (id) DO NOTHING`, from, to, p, now)
	if err != nil {
		return 0, fmt.Errorf("store: open reports: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// DueReports returns, oldest first, the processing reports whose period
// ended at least settleAfter before now.
func (s *Store) DueReports(ctx context.Context, settleAfter time.Duration, now time.Time) ([]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id FROM payment_reports
		WHERE status = 'processing' AND period_end <= $1 ORDER BY id`, now.Add(-settleAfter))
	if err != nil {
		return nil, fmt.Errorf("store: due reports: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: due reports: %w", err)
	}
	return ids, nil
}

// SettleReport closes report id in one transaction: it stamps the report on
// every unsettled billed view recorded before the period's end (stragglers
// of earlier periods included; oldest first, as many as fit in an int64
// value), and sets value = their sum, views = their
// count, status done. The report row is locked first, so when several
// bridges race exactly one settles it; the others see it done and return
// false. A done report never changes again.
func (s *Store) SettleReport(ctx context.Context, id int64, now time.Time) (*Report, bool, error) {
	settled := false
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var status string
		var end time.Time
		err := tx.QueryRow(ctx, `SELECT status, period_end FROM payment_reports WHERE id = $1 FOR UPDATE`, id).Scan(&status, &end)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status == StatusDone {
			return nil
		}
		var value, views int64
		// Number the rows in event id order as they are stamped: details
		// then page by position, exactly and cheaply at any offset. A report
		// takes views only while its value fits in a bigint (the running sum
		// is numeric): an overflow would fail this report, and every later
		// one, forever. The views left out go to the next report.
		err = tx.QueryRow(ctx, `WITH picked AS (
				SELECT id, value FROM events
				WHERE report_id IS NULL AND type = 'view' AND value > 0 AND created_at < $2
				ORDER BY id FOR UPDATE),
			numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS seq,
					sum(value) OVER (ORDER BY id) AS running FROM picked),
			stamped AS (
				UPDATE events e SET report_id = $1, report_seq = n.seq FROM numbered n
				WHERE e.id = n.id AND e.report_id IS NULL AND n.running <= 9223372036854775807
				RETURNING e.value)
			SELECT coalesce(sum(value), 0)::bigint, count(*) FROM stamped`, id, end).Scan(&value, &views)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE payment_reports SET status = 'done', value = $2, views = $3, updated_at = $4
			WHERE id = $1`, id, value, views, now); err != nil {
			return err
		}
		settled = true
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("store: settle report %d: %w", id, err)
	}
	r, err := s.GetReport(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return r, settled, nil
}

const reportColumns = `id, period_start, period_end, status, value, views, created_at, updated_at`

func scanReport(row pgx.Row) (*Report, error) {
	var r Report
	err := row.Scan(&r.ID, &r.PeriodStart, &r.PeriodEnd, &r.Status, &r.Value, &r.Views, &r.CreatedAt, &r.UpdatedAt)
	return &r, err
}

// GetReport returns report id, or ErrNotFound.
func (s *Store) GetReport(ctx context.Context, id int64) (*Report, error) {
	r, err := scanReport(s.Pool.QueryRow(ctx, `SELECT `+reportColumns+` FROM payment_reports WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get report: %w", err)
	}
	return r, nil
}

// ListReports returns the reports whose period starts in [from, to), oldest first.
func (s *Store) ListReports(ctx context.Context, from, to time.Time) ([]Report, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+reportColumns+` FROM payment_reports
		WHERE period_start >= $1 AND period_start < $2 ORDER BY id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: list reports: %w", err)
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list reports: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list reports: %w", err)
	}
	return out, nil
}

// PaymentDetail is one paid case of a report as the AdServer reads it.
type PaymentDetail struct {
	CaseID string
	Value  int64 // ADS clicks
}

// ReportDetails returns one page of a report's billed views in event id
// order: stable and exact across calls, because a settled report's rows and
// their positions (report_seq) never change.
func (s *Store) ReportDetails(ctx context.Context, id int64, limit, offset int64) ([]PaymentDetail, error) {
	if limit <= 0 || offset < 0 || offset > math.MaxInt64-limit {
		return nil, nil // past any report's end
	}
	rows, err := s.Pool.Query(ctx, `SELECT case_id, value FROM events
		WHERE report_id = $1 AND report_seq > $3 AND report_seq <= $3 + $2
		ORDER BY report_seq`, id, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("store: report details: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PaymentDetail, error) {
		var d PaymentDetail
		err := row.Scan(&d.CaseID, &d.Value)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: report details: %w", err)
	}
	return out, nil
}

// BilledView is a billed view with what the operator needs to audit it.
type BilledView struct {
	EventID     int64
	CaseID      string
	ExtID       string
	DSP         string
	PriceMicros int64 // micro-USD CPM
	RateNanos   int64 // nano-USD per ADS
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
	rows, err := s.Pool.Query(ctx, `SELECT e.id, e.case_id, e.ext_id, a.dsp, e.price_micros, e.rate_nanos, e.value, e.created_at
		FROM events e JOIN auctions a USING (ext_id) WHERE `+where+` ORDER BY e.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: billed views: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (BilledView, error) {
		var v BilledView
		err := row.Scan(&v.EventID, &v.CaseID, &v.ExtID, &v.DSP, &v.PriceMicros, &v.RateNanos, &v.Value, &v.CreatedAt)
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
			coalesce(sum(e.price_micros), 0)::bigint, 0::bigint, 0::bigint
		FROM events e JOIN auctions a USING (ext_id) WHERE `+where+` GROUP BY a.dsp ORDER BY a.dsp`, args...)
}

// DSPSpend sums, per DSP, the billed views recorded in [from, to), the
// undelivered notices created in that range and the billed views at risk
// because their burl was never delivered (DECISIONS §10).
func (s *Store) DSPSpend(ctx context.Context, from, to time.Time) ([]DSPTotal, error) {
	return s.dspTotals(ctx, `WITH billed AS (
			SELECT a.dsp, count(*) AS views, sum(e.value) AS value, sum(e.price_micros) AS price,
				sum(e.price_micros) FILTER (WHERE o.status = 'undelivered') AS at_risk
			FROM events e JOIN auctions a USING (ext_id)
			LEFT JOIN outbox o ON o.ext_id = e.ext_id AND o.kind = 'burl'
			WHERE e.type = 'view' AND e.value > 0 AND e.created_at >= $1 AND e.created_at < $2
			GROUP BY a.dsp),
		failed AS (
			SELECT dsp, count(*) AS undelivered FROM outbox
			WHERE status = 'undelivered' AND created_at >= $1 AND created_at < $2 GROUP BY dsp)
		SELECT coalesce(b.dsp, f.dsp), coalesce(b.views, 0), coalesce(b.value, 0)::bigint, coalesce(b.price, 0)::bigint,
			coalesce(f.undelivered, 0), coalesce(b.at_risk, 0)::bigint
		FROM billed b FULL JOIN failed f ON f.dsp = b.dsp ORDER BY 1`, from, to)
}

func (s *Store) dspTotals(ctx context.Context, sql string, args ...any) ([]DSPTotal, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: dsp totals: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DSPTotal, error) {
		var t DSPTotal
		err := row.Scan(&t.DSP, &t.Views, &t.Value, &t.PriceMicros, &t.Undelivered, &t.AtRisk)
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
// billed view's value from its stored price and rate, and returns every
// mismatch (none when the books are consistent).
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

	// The same formula as ads.ViewValue, in exact numeric arithmetic, so a
	// billion events are checked without leaving the database.
	rows, err = s.Pool.Query(ctx, `SELECT id, report_id, value, coalesce(want::text, 'not billable'), in_report_not_billed
		FROM (SELECT id, coalesce(report_id, 0) AS report_id, value,
				CASE WHEN type = 'view' AND rate_nanos > 0 THEN div(price_micros::numeric * 100000000000, rate_nanos) END AS want,
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
		m := Mismatch{ReportID: reportID, EventID: id, Problem: "event value differs from price / rate",
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
