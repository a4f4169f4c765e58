// Partitions of the time-partitioned tables (auctions, events, outbox, all
// by created_at; migration 005): listing them, creating them ahead of time
// and dropping expired ones. Retention policy lives in package retention;
// this file only knows the catalog.

package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Partitioned tables, in the order retention looks at them.
var PartitionedTables = []string{"auctions", "events", "outbox"}

// ddlLockTimeout bounds how long creating or dropping a partition waits for
// its locks. Dropping needs the parent table's ACCESS EXCLUSIVE lock, and
// every insert waits behind a waiting DROP: better to give up and try at
// the next retention run than to stall /bid and /view.
const ddlLockTimeout = 100 * time.Millisecond

// Partition is one partition of a partitioned table.
type Partition struct {
	Table string    `json:"table"`
	Name  string    `json:"name"`
	From  time.Time `json:"from"` // inclusive; zero for the default partition
	To    time.Time `json:"to"`   // exclusive
	// Default is the catch-all partition of rows no other one covers.
	Default bool `json:"default"`
	// Rows is the planner's estimate (exact after ANALYZE, 0 before).
	Rows  int64 `json:"rows_estimate"`
	Bytes int64 `json:"bytes"` // table, indexes and TOAST
}

// Partitions lists the partitions of table, oldest first, the default last.
func (s *Store) Partitions(ctx context.Context, table string) ([]Partition, error) {
	var out []Partition
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// Bounds are printed in the session's time zone: make it UTC.
		if _, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'UTC'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid),
				greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = $1::regclass`, table)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partition, error) {
			p := Partition{Table: table}
			var bound string
			if err := r.Scan(&p.Name, &bound, &p.Rows, &p.Bytes); err != nil {
				return p, err
			}
			return p, parseBound(&p, bound)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: partitions of %s: %w", table, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Default != out[j].Default {
			return out[j].Default
		}
		return out[i].From.Before(out[j].From)
	})
	return out, nil
}

// parseBound reads "FOR VALUES FROM ('2024-05-01 00:00:00+00') TO (...)"
// or "DEFAULT".
func parseBound(p *Partition, bound string) error {
	if bound == "DEFAULT" {
		p.Default = true
		return nil
	}
	parts := strings.Split(bound, "'")
	if len(parts) != 5 || !strings.HasPrefix(bound, "FOR VALUES FROM (") {
		return fmt.Errorf("partition %s: unexpected bound %q", p.Name, bound)
	}
	from, to := parts[1], parts[3]
	var err error
	if p.From, err = parseBoundTime(from); err != nil {
		return fmt.Errorf("partition %s: %w", p.Name, err)
	}
	if p.To, err = parseBoundTime(to); err != nil {
		return fmt.Errorf("partition %s: %w", p.Name, err)
	}
	return nil
}

func parseBoundTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unexpected bound time %q", s)
}

// PartitionName is the name a new partition starting at from gets.
func PartitionName(table string, from time.Time) string {
	return table + "_p" + from.UTC().Format("20060102_1504")
}

// Slot is the partition-sized range [From, To) of the interval grid
// (multiples of interval since the unix epoch) that contains t.
func Slot(t time.Time, interval time.Duration) (from, to time.Time) {
	iv := int64(interval / time.Second)
	start := floorDiv(t.Unix(), iv) * iv
	return time.Unix(start, 0).UTC(), time.Unix(start+iv, 0).UTC()
}

// gaps returns the grid slots (whole ones, up to the one holding to) of
// [from, to) no partition covers, each cut where an existing partition
// begins: the partitions to create. After a change of interval the first
// new partition ends where the next slot of the new grid begins.
func gaps(parts []Partition, from, to time.Time, interval time.Duration) [][2]time.Time {
	var out [][2]time.Time
	for t := from; t.Before(to); {
		_, end := Slot(t, interval)
		covered := false
		for _, p := range parts {
			if p.Default {
				continue
			}
			if !t.Before(p.From) && t.Before(p.To) {
				t, covered = p.To, true // skip what p covers
				break
			}
			if p.From.After(t) && p.From.Before(end) {
				end = p.From // stop where the next one starts
			}
		}
		if covered {
			continue
		}
		out = append(out, [2]time.Time{t, end})
		t = end
	}
	return out
}

// EnsurePartitions creates the partitions of table that cover [from, to)
// on the interval grid where none exists, and, for rows waiting in the
// default partition, the partitions they belong to (moving them there). It
// returns the partitions it created. Safe to call from several instances:
// a partition another one created first is simply skipped next time.
func (s *Store) EnsurePartitions(ctx context.Context, table string, from, to time.Time, interval time.Duration) ([]Partition, error) {
	if interval < time.Hour || interval%time.Second != 0 {
		return nil, fmt.Errorf("store: partition interval %s: at least 1h, whole seconds", interval)
	}
	parts, err := s.Partitions(ctx, table)
	if err != nil {
		return nil, err
	}
	from, _ = Slot(from, interval)
	want := gaps(parts, from, to, interval)
	// Rows in the default partition: their slots too.
	var waiting []time.Time
	for _, p := range parts {
		if !p.Default {
			continue
		}
		rows, err := s.Pool.Query(ctx, fmt.Sprintf(`SELECT DISTINCT date_bin($1::interval, created_at, timestamptz '1970-01-01 00:00:00+00')
			FROM ONLY %s ORDER BY 1 LIMIT 1000`, pgx.Identifier{p.Name}.Sanitize()), interval)
		if err != nil {
			return nil, fmt.Errorf("store: partitions of %s: %w", table, err)
		}
		if waiting, err = pgx.CollectRows(rows, pgx.RowTo[time.Time]); err != nil {
			return nil, fmt.Errorf("store: partitions of %s: %w", table, err)
		}
	}
	for _, w := range waiting {
		slotFrom, slotTo := Slot(w, interval)
		for _, g := range gaps(parts, slotFrom, slotTo, interval) {
			want = append(want, g)
		}
	}
	var created []Partition
	seen := map[time.Time]bool{}
	for _, g := range want {
		if seen[g[0]] {
			continue
		}
		seen[g[0]] = true
		p, err := s.createPartition(ctx, table, g[0], g[1])
		if errors.Is(err, errPartitionExists) {
			continue
		}
		if err != nil {
			// Another instance may have created it meanwhile: fine if the
			// range is covered now.
			if now, lerr := s.Partitions(ctx, table); lerr == nil && len(gaps(now, g[0], g[1], interval)) == 0 {
				continue
			}
			return created, err
		}
		created = append(created, p)
	}
	return created, nil
}

// createPartition creates table's partition [from, to) without the parent
// lock CREATE TABLE ... PARTITION OF takes (ACCESS EXCLUSIVE: it would
// stall every insert): a plain table LIKE the parent (columns, defaults,
// checks, indexes), the default partition's rows of that range moved into
// it, then ATTACH PARTITION, which needs only SHARE UPDATE EXCLUSIVE on the
// parent (and the default partition's lock for the moment it checks it).
func (s *Store) createPartition(ctx context.Context, table string, from, to time.Time) (Partition, error) {
	p := Partition{Table: table, Name: PartitionName(table, from), From: from, To: to}
	name, parent, def := pgx.Identifier{p.Name}.Sanitize(), pgx.Identifier{table}.Sanitize(), pgx.Identifier{table + "_default"}.Sanitize()
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// One creator per table at a time, across instances: a second one
		// waits here (not on the DDL locks, where lock_timeout would fail
		// it) and then finds the partition made.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "dsp-bridge partitions "+table); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, p.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return errPartitionExists
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, ddlLockTimeout.Milliseconds())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (LIKE %s INCLUDING ALL)`, name, parent)); err != nil {
			return err
		}
		var hasDefault bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table+"_default").Scan(&hasDefault); err != nil {
			return err
		}
		if hasDefault {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`WITH moved AS (DELETE FROM ONLY %s WHERE created_at >= $1 AND created_at < $2 RETURNING *)
				INSERT INTO %s SELECT * FROM moved`, def, name), from, to); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`,
			parent, name, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)))
		return err
	})
	if errors.Is(err, errPartitionExists) {
		return p, err
	}
	if err != nil {
		return p, fmt.Errorf("store: create partition %s: %w", p.Name, err)
	}
	return p, nil
}

// errPartitionExists: another instance created the partition first.
var errPartitionExists = errors.New("store: partition exists")

// ErrPartitionKept is returned by DropPartition when its check, made under
// the partition's lock, says the partition must stay.
var ErrPartitionKept = errors.New("store: partition kept")

// DropPartition drops one partition (never a default one) with DROP
// TABLE: no row-by-row DELETE. check, if given, runs first in the same
// transaction with the partition locked (no row can arrive meanwhile) and
// may refuse by returning an error. A drop that cannot get its locks within
// a short timeout fails; retention tries again at its next run.
func (s *Store) DropPartition(ctx context.Context, p Partition, check func(ctx context.Context, tx pgx.Tx) error) error {
	if p.Default {
		return fmt.Errorf("store: %s is a default partition, never dropped", p.Name)
	}
	name := pgx.Identifier{p.Name}.Sanitize()
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, ddlLockTimeout.Milliseconds())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE ONLY `+name+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if check != nil {
			if err := check(ctx, tx); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DROP TABLE `+name)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrPartitionKept) {
			return err
		}
		return fmt.Errorf("store: drop partition %s: %w", p.Name, err)
	}
	return nil
}

// maintenanceLockID is the advisory lock one retention run holds, so that
// of several instances one works at a time.
const maintenanceLockID = 0x0b71d6e1

// WithMaintenanceLock runs fn if no other bridge runs maintenance right now
// (ran reports whether it did). The lock is a session lock on one
// connection, released when fn returns, or by PostgreSQL if this process
// dies: it never depends on any instance's clock.
func (s *Store) WithMaintenanceLock(ctx context.Context, fn func(ctx context.Context) error) (ran bool, err error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("store: maintenance lock: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, maintenanceLockID).Scan(&got); err != nil {
		return false, fmt.Errorf("store: maintenance lock: %w", err)
	}
	if !got {
		return false, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, maintenanceLockID)
	return true, fn(ctx)
}
