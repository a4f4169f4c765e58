// What retention asks the database before it drops a partition.

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HasUnsettled reports whether an events partition holds billed views no
// report has taken yet (through the partial index of unsettled views). tx
// is a transaction, or nil for the pool.
func (s *Store) HasUnsettled(ctx context.Context, tx pgx.Tx, p Partition) (bool, error) {
	return s.exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE report_id IS NULL AND type = 'view' AND value > 0)`, p)
}

// HasPending reports whether an outbox partition holds notices still to
// deliver. tx is a transaction, or nil for the pool.
func (s *Store) HasPending(ctx context.Context, tx pgx.Tx, p Partition) (bool, error) {
	return s.exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE status = 'pending')`, p)
}

func (s *Store) exists(ctx context.Context, tx pgx.Tx, sql string, p Partition) (bool, error) {
	var q interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	} = s.Pool
	if tx != nil {
		q = tx
	}
	var ok bool
	if err := q.QueryRow(ctx, fmt.Sprintf(sql, pgx.Identifier{p.Name}.Sanitize())).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: look into %s: %w", p.Name, err)
	}
	return ok, nil
}

// ReportSpan is a report with rows recorded in some time range.
type ReportSpan struct {
	ID          int64
	Status      string
	PeriodStart time.Time
}

// ReportsWithRowsIn returns the reports with rows recorded in [from, to),
// from the bounds every report keeps (payment_reports.events_from/_to):
// the reports a dropped events partition would take rows from.
// tx is a transaction, or nil for the pool.
func (s *Store) ReportsWithRowsIn(ctx context.Context, tx pgx.Tx, from, to time.Time) ([]ReportSpan, error) {
	var q querier = s.Pool
	if tx != nil {
		q = tx
	}
	rows, err := q.Query(ctx, `SELECT id, status, period_start FROM payment_reports
		WHERE events_from < $2 AND events_to >= $1 ORDER BY id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: reports with rows in a range: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReportSpan, error) {
		var rs ReportSpan
		err := r.Scan(&rs.ID, &rs.Status, &rs.PeriodStart)
		return rs, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: reports with rows in a range: %w", err)
	}
	return out, nil
}

// MarkDetailsDropped records, in the transaction that drops an events
// partition [from, to), that the reports with rows in it lost them: their
// totals stay, `payments verify` no longer recomputes them.
func MarkDetailsDropped(ctx context.Context, tx pgx.Tx, from, to time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE payment_reports SET details_dropped_at = coalesce(details_dropped_at, statement_timestamp())
		WHERE events_from < $2 AND events_to >= $1`, from, to)
	if err != nil {
		return fmt.Errorf("store: mark dropped details: %w", err)
	}
	return nil
}

// TableSize is the size of a partitioned table, all partitions together.
type TableSize struct {
	Table      string
	Partitions int   // without the default partition
	Rows       int64 // the planner's estimate
	Bytes      int64 // tables, indexes and TOAST
}

// TableSizes sums the partitions of every partitioned table (catalog reads
// only: cheap enough for the metrics scrape).
func (s *Store) TableSizes(ctx context.Context) ([]TableSize, error) {
	rows, err := s.Pool.Query(ctx, `SELECT p.relname,
			count(*) FILTER (WHERE NOT c.relispartition OR pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'),
			coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class p JOIN pg_inherits i ON i.inhparent = p.oid JOIN pg_class c ON c.oid = i.inhrelid
		WHERE p.oid = ANY (ARRAY[to_regclass('auctions'), to_regclass('events'), to_regclass('outbox')])
		GROUP BY p.relname ORDER BY p.relname`)
	if err != nil {
		return nil, fmt.Errorf("store: table sizes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableSize, error) {
		var t TableSize
		err := r.Scan(&t.Table, &t.Partitions, &t.Rows, &t.Bytes)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: table sizes: %w", err)
	}
	return out, nil
}
