// Payment reports: opening one per period, settling it once, and reading
// its details the way the AdServer pages them.

package store

import (
	"context"
	"errors"
	"fmt"
	"math"
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
