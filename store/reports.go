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
	// EventsFrom and EventsTo bound the created_at of the report's rows
	// (nil: none yet): its details are read from those partitions only.
	EventsFrom, EventsTo *time.Time
	// DetailsDroppedAt is set once retention dropped a partition holding
	// some of the report's rows (only ever outside payments.window).
	DetailsDroppedAt *time.Time
}

// ReportID returns the id of the period starting at unix second start, and
// refuses anything that is not 0..18 decimal digits.
func ReportID(start int64) (int64, error) {
	if start < 0 || start >= MaxReportID {
		return 0, fmt.Errorf("store: period start %d gives a report id longer than 18 digits", start)
	}
	return start, nil
}

// openReportsSQL finds where the reports stop and the oldest unsettled
// billed view (through the partial index events_unsettled of every
// partition: a straggler may be old).
const openReportsSQL = `SELECT (SELECT max(period_end) FROM payment_reports),
	(SELECT min(created_at) FROM events WHERE report_id IS NULL AND type = 'view' AND value > 0)`

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
	err := s.Pool.QueryRow(ctx, openReportsSQL).Scan(&lastEnd, &oldestView)
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

// DefaultSettleChunk is how many views one settlement transaction stamps
// (payments.settle_chunk): short transactions whatever the period's size.
const DefaultSettleChunk = 50_000

// settlePickSQL takes the next chunk of a report: the oldest unsettled
// billed views recorded before the period's end (stragglers of earlier
// periods included), in (created_at, id) order through the partial index
// events_unsettled, locked until the chunk commits.
const settlePickSQL = `SELECT id, created_at, value FROM events
	WHERE report_id IS NULL AND type = 'view' AND value > 0 AND created_at < $1
	ORDER BY created_at, id LIMIT $2 FOR UPDATE`

// settleStampSQL stamps a chunk with its report and positions. lo/hi ($5,
// $6) are the chunk's created_at range: the update prunes to the
// partitions holding it.
const settleStampSQL = `UPDATE events e SET report_id = $1, report_seq = v.seq
	FROM unnest($2::bigint[], $3::timestamptz[], $4::bigint[]) AS v(id, created_at, seq)
	WHERE e.id = v.id AND e.created_at = v.created_at AND e.created_at >= $5 AND e.created_at <= $6 AND e.report_id IS NULL`

// SettleReport closes report id: it stamps the report on every unsettled
// billed view recorded before the period's end, chunk views per
// transaction, numbering them 1..n, and then sets value = their sum, views
// = their count, status done. A report takes views only while its value
// fits in a bigint (an overflow would fail this report, and every later
// one, forever): the views left out go to the next report. Every chunk
// locks the report row first, so when several bridges race they take turns
// and the positions stay 1..n without a gap; a bridge that dies between
// chunks leaves the report processing with its progress, and whoever comes
// next goes on from there. settled is true for the call that turned the
// report done. A done report never changes again.
func (s *Store) SettleReport(ctx context.Context, id int64, now time.Time, chunk int) (*Report, bool, error) {
	if chunk <= 0 {
		chunk = DefaultSettleChunk
	}
	settled := false
	for done := false; !done; {
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			last, finished, err := settleChunk(ctx, tx, id, now, chunk)
			done, settled = finished, last
			return err
		})
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, false, err
			}
			return nil, false, fmt.Errorf("store: settle report %d: %w", id, err)
		}
	}
	r, err := s.GetReport(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return r, settled, nil
}

// settleChunk stamps one chunk of report id in tx. settled: this chunk
// turned the report done; finished: the report is done (now or before).
func settleChunk(ctx context.Context, tx pgx.Tx, id int64, now time.Time, chunk int) (settled, finished bool, err error) {
	var status string
	var end time.Time
	var views, value int64
	err = tx.QueryRow(ctx, `SELECT status, period_end, stamped_views, stamped_value FROM payment_reports
		WHERE id = $1 FOR UPDATE`, id).Scan(&status, &end, &views, &value)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, ErrNotFound
	}
	if err != nil || status == StatusDone {
		return false, status == StatusDone, err
	}
	rows, err := tx.Query(ctx, settlePickSQL, end, chunk)
	if err != nil {
		return false, false, err
	}
	var ids, seqs []int64
	var created []time.Time
	var lo, hi time.Time
	full := false // the report's value cannot take the next view
	n := 0
	for rows.Next() {
		var eid, v int64
		var at time.Time
		if err := rows.Scan(&eid, &at, &v); err != nil {
			rows.Close()
			return false, false, err
		}
		n++
		if full || v > math.MaxInt64-value {
			full = true
			continue
		}
		value += v
		views++
		ids, created, seqs = append(ids, eid), append(created, at), append(seqs, views)
		if len(ids) == 1 {
			lo = at
		}
		hi = at
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, false, err
	}
	if len(ids) > 0 {
		tag, err := tx.Exec(ctx, settleStampSQL, id, ids, created, seqs, lo, hi)
		if err != nil {
			return false, false, err
		}
		if tag.RowsAffected() != int64(len(ids)) {
			return false, false, fmt.Errorf("stamped %d of %d views", tag.RowsAffected(), len(ids))
		}
	}
	// The last chunk: fewer rows than asked for, or the value is full.
	last := n < chunk || full
	var from, to *time.Time
	if len(ids) > 0 {
		from, to = &lo, &hi
	}
	_, err = tx.Exec(ctx, `UPDATE payment_reports SET stamped_views = $2::bigint, stamped_value = $3::bigint,
			events_from = least(events_from, $4::timestamptz), events_to = greatest(events_to, $5::timestamptz),
			status = CASE WHEN $6::boolean THEN 'done' ELSE status END,
			value = CASE WHEN $6::boolean THEN $3::bigint END,
			views = CASE WHEN $6::boolean THEN $2::bigint ELSE views END,
			updated_at = CASE WHEN $6::boolean THEN $7::timestamptz ELSE updated_at END
		WHERE id = $1`, id, views, value, from, to, last, now)
	return last, last, err
}

const reportColumns = `id, period_start, period_end, status, value, views, created_at, updated_at, events_from, events_to, details_dropped_at`

func scanReport(row pgx.Row) (*Report, error) {
	var r Report
	err := row.Scan(&r.ID, &r.PeriodStart, &r.PeriodEnd, &r.Status, &r.Value, &r.Views, &r.CreatedAt, &r.UpdatedAt,
		&r.EventsFrom, &r.EventsTo, &r.DetailsDroppedAt)
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

// reportDetailsSQL reads one page of a report by position, in the
// partitions that hold the report's rows only.
const reportDetailsSQL = `SELECT case_id, value FROM events
	WHERE report_id = $1 AND report_seq > $3::bigint AND report_seq <= $3::bigint + $2::bigint AND created_at >= $4 AND created_at <= $5
	ORDER BY report_seq`

// ReportDetails returns one page of a report's billed views in position
// order: stable and exact across calls, because a settled report's rows and
// their positions (report_seq) never change.
func (s *Store) ReportDetails(ctx context.Context, r *Report, limit, offset int64) ([]PaymentDetail, error) {
	if limit <= 0 || offset < 0 || offset > math.MaxInt64-limit || r.EventsFrom == nil || r.EventsTo == nil {
		return nil, nil // past any report's end, or a report without rows
	}
	rows, err := s.Pool.Query(ctx, reportDetailsSQL, r.ID, limit, offset, *r.EventsFrom, *r.EventsTo)
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
