package store

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Statements that name partitions instead of their partitioned parent.
//
// The main pool plans every statement afresh (force_custom_plan, see
// newPool): a generic plan of a statement on a partitioned parent locks
// every partition. On the view path that planning was about a third of
// the database's time (issue 14, pg_stat_statements over bridge bench
// --mode views: the look-up of earlier views planned 2.2 s against 0.9 s
// executing, GetAuctions 1.1 s against 1.2 s). A statement that names its
// partitions locks only those, so it can keep a generic plan.
//
// The bridge knows the partitions from the catalog, read again at most
// once per partitionTTL. A stale list costs time, never a row: GetAuctions
// looks again on the parent for whatever the named partition did not hold
// (a statement on a partition that is gone fails, and the parent does it
// all), and the look-up of earlier views checks the catalog in its own
// snapshot (priorviews.go).
//
// The outbox's outcomes stay on the parent: their UPDATE on a generic plan
// (each row by its key) took three times as long to execute in the bench
// as the custom plan, more than its planning saved.

// partitionTTL is how long a loaded list of partitions is used before the
// catalog is read again (new partitions are made a day or more ahead).
const partitionTTL = time.Minute

// partitionCache holds what the catalog said of each partitioned table's
// partitions, by table. The zero value is ready to use.
type partitionCache struct {
	mu     sync.Mutex
	tables map[string]partitionList
	named  atomic.Int64 // statements on partitions by name whose answer was used
}

// partitionList is what the catalog said of one table's partitions.
type partitionList struct {
	loaded time.Time
	// parts are the partitions but the default one, oldest first; never
	// changed once stored (callers keep the slice).
	parts []Partition
	// def is the default partition's name ("" if there is none).
	def string
	// oids are every partition's oid (the default's too), in order: what
	// a statement compares with the catalog at the moment it runs.
	oids []int64
}

// partitionsOf returns table's partitions from the cache or the catalog;
// a zero list (no oids) if the catalog cannot be read.
func (s *Store) partitionsOf(ctx context.Context, table string) partitionList {
	c := &s.parts
	c.mu.Lock()
	l, ok := c.tables[table]
	c.mu.Unlock()
	if ok && time.Since(l.loaded) < partitionTTL {
		return l
	}
	// Read without the lock, so that a slow catalog read holds up only its
	// own caller (two callers may read at once: either list is right). A
	// failed read is not retried before the TTL either: callers then use
	// the parent, and a catalog read per statement would cost more.
	l, err := s.loadPartitions(ctx, table)
	if err != nil {
		l = partitionList{}
	}
	l.loaded = time.Now()
	c.mu.Lock()
	if c.tables == nil {
		c.tables = map[string]partitionList{}
	}
	c.tables[table] = l
	c.mu.Unlock()
	return l
}

// forget drops table's list: the catalog has changed since it was read.
func (c *partitionCache) forget(table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tables, table)
}

// loadPartitions reads table's partitions and their oids in one statement
// (one snapshot: the oids are exactly those of the partitions listed).
func (s *Store) loadPartitions(ctx context.Context, table string) (partitionList, error) {
	var l partitionList
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// Bounds are printed in the session's time zone: make it UTC.
		if _, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'UTC'`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.oid::int8, c.relname, pg_get_expr(c.relpartbound, c.oid)
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = $1::regclass ORDER BY 1`, table)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var oid int64
			var bound string
			p := Partition{Table: table}
			if err := rows.Scan(&oid, &p.Name, &bound); err != nil {
				return err
			}
			if err := parseBound(&p, bound); err != nil {
				return err
			}
			l.oids = append(l.oids, oid)
			if p.Default {
				l.def = p.Name
				continue
			}
			l.parts = append(l.parts, p)
		}
		return rows.Err()
	})
	sort.Slice(l.parts, func(i, j int) bool { return l.parts[i].From.Before(l.parts[j].From) })
	return l, err
}

// overlapping returns the names of l's partitions whose range overlaps
// [from, to), oldest first, and the default partition's last.
func (l partitionList) overlapping(from, to time.Time) []string {
	var out []string
	for _, p := range l.parts {
		if p.From.Before(to) && p.To.After(from) {
			out = append(out, p.Name)
		}
	}
	if l.def != "" {
		out = append(out, l.def)
	}
	return out
}

// holding returns the partition of parts (oldest first) whose range holds
// all of [from, to], or false if none does.
func holding(parts []Partition, from, to time.Time) (Partition, bool) {
	i := sort.Search(len(parts), func(i int) bool { return parts[i].To.After(from) })
	if i < len(parts) && !from.Before(parts[i].From) && to.Before(parts[i].To) {
		return parts[i], true
	}
	return Partition{}, false
}

// namedPlanSettings come first in a transaction of statements that name
// partitions: a generic plan, and one that stays right whatever the
// statistics say when it is made. A connection makes it once, often while
// the day's partition is new and has no statistics (the planner then takes
// it for ten pages): a sequential scan or a hash join chosen then would be
// kept until the next ANALYZE, reading the whole partition at every
// execution as it grows. Index scans on the keys are right at any size.
var namedPlanSettings = []string{
	`SET LOCAL plan_cache_mode = force_generic_plan`,
	`SET LOCAL enable_seqscan = off`,
	`SET LOCAL enable_hashjoin = off`,
	`SET LOCAL enable_mergejoin = off`,
}

// joinSettingsBack undo namedPlanSettings' enable_* right after the
// statement that needed them, so that the rest of its transaction plans
// as it would have without them.
var joinSettingsBack = []string{
	`SET LOCAL enable_seqscan TO DEFAULT`,
	`SET LOCAL enable_hashjoin TO DEFAULT`,
	`SET LOCAL enable_mergejoin TO DEFAULT`,
}

// onePartition is one statement of onPartitions: sql (which names a
// partition), its arguments and what reads its rows.
type onePartition struct {
	sql  string
	args []any
	rows func(pgx.Rows) error
}

// onPartitions runs stmts in one transaction, with generic plans
// (namedPlanSettings), in one round trip, and commits. On any error
// nothing of it is committed and the error is returned (the caller then
// uses the parent tables).
func (s *Store) onPartitions(ctx context.Context, stmts []onePartition) (err error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		if err != nil {
			rollbackIfOpen(conn)
		}
	}()
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	for _, set := range namedPlanSettings {
		batch.Queue(set)
	}
	for _, st := range stmts {
		batch.Queue(st.sql, st.args...)
	}
	batch.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, batch)
	defer func() {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}()
	for range 1 + len(namedPlanSettings) {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	for _, st := range stmts {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		err = st.rows(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return err
		}
	}
	// The COMMIT's answer: only after it does anything written count.
	if _, err = br.Exec(); err == nil {
		s.parts.named.Add(int64(len(stmts)))
	}
	return err
}
