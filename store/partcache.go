package store

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Statements that name one partition instead of its partitioned parent.
//
// The main pool plans every statement afresh (force_custom_plan, see
// newPool): a generic plan of a statement on a partitioned parent locks
// every partition. On the view path that planning was about a third of
// the database's time (issue 14: GetAuctions and the outcomes' UPDATE spent
// as long planning as executing). A statement that names one partition
// locks one table, so it can keep a generic plan and skip planning.
//
// The bridge knows the partitions from the catalog, loaded again at most
// once per partitionTTL. A stale list costs time, never correctness: a
// statement on a partition that is gone fails and the caller uses the
// parent instead, and whatever a partition did not hold (a row elsewhere,
// a partition with other bounds than remembered) is looked for again on
// the parent.

// partitionTTL is how long a loaded list of partitions is used before the
// catalog is read again (new partitions are made a day or more ahead).
const partitionTTL = time.Minute

// partitionCache holds the partitions of each partitioned table, oldest
// first, without the default one. The zero value is ready to use.
type partitionCache struct {
	mu     sync.Mutex
	tables map[string]partitionList
	named  atomic.Int64 // statements run on a partition by name and committed
}

type partitionList struct {
	loaded time.Time
	parts  []Partition // never changed once stored: callers keep the slice
}

// partitionsOf returns table's partitions (not the default), oldest first,
// from the cache or the catalog; nil if the catalog cannot be read.
func (s *Store) partitionsOf(ctx context.Context, table string) []Partition {
	c := &s.parts
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.tables[table]
	if ok && time.Since(l.loaded) < partitionTTL {
		return l.parts
	}
	all, err := s.Partitions(ctx, table)
	// A failed read is not retried before the TTL either: the caller uses
	// the parent, and the next reader every statement would pay for it.
	l = partitionList{loaded: time.Now(), parts: l.parts}
	if err == nil {
		l.parts = l.parts[:0:0]
		for _, p := range all {
			if !p.Default {
				l.parts = append(l.parts, p)
			}
		}
	}
	if c.tables == nil {
		c.tables = map[string]partitionList{}
	}
	c.tables[table] = l
	return l.parts
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

// onePartition is one statement of onPartitions: sql (which names a
// partition), its arguments and what reads its rows.
type onePartition struct {
	sql  string
	args []any
	rows func(pgx.Rows) error
}

// onPartitions runs stmts in one transaction, with generic plans, in one
// round trip, and commits. On any error nothing of it is committed and
// the error is returned (the caller then uses the parent tables).
func (s *Store) onPartitions(ctx context.Context, stmts []onePartition) (err error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		// Not back to the pool inside a transaction (Release would drop
		// the connection; a rollback keeps it).
		if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn.Exec(rctx, "ROLLBACK")
		}
	}()
	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	batch.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
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
	for range 2 {
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
