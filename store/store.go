// Package store keeps the bridge's state in PostgreSQL: wins, events, the
// notice outbox and payment reports. SQL lives next to the method that runs it.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the bridge's database handle.
type Store struct {
	// Pool serves everything but storing wins.
	Pool *pgxpool.Pool
	// wins is the pool InsertAuctions uses: connections no slow view,
	// settlement or operator query can take, so that /bid can always store
	// its wins. It is Pool itself when no connections are reserved.
	wins *pgxpool.Pool
	// parts are the partitions that statements name directly (partcache.go).
	parts partitionCache
}

// Options size the connection pools.
type Options struct {
	// MaxConns is every connection this process opens (database.max_conns).
	MaxConns int32
	// WinConns of them are reserved for storing wins (database.win_conns);
	// 0 shares one pool.
	WinConns int32
}

// Open connects to PostgreSQL with one shared pool of maxConns (operator
// tools, tests) and checks the connection.
func Open(ctx context.Context, url string, maxConns int32) (*Store, error) {
	return OpenWith(ctx, url, Options{MaxConns: maxConns})
}

// OpenWith connects with the given pools and checks the connection.
func OpenWith(ctx context.Context, url string, o Options) (*Store, error) {
	if o.WinConns > 0 && o.MaxConns > 0 && o.WinConns >= o.MaxConns {
		return nil, fmt.Errorf("store: %d connections reserved for wins leave none of %d for the rest", o.WinConns, o.MaxConns)
	}
	main := o.MaxConns
	if o.WinConns > 0 && main > 0 {
		main -= o.WinConns
	}
	pool, err := newPool(ctx, url, main, "force_custom_plan")
	if err != nil {
		return nil, err
	}
	s := &Store{Pool: pool, wins: pool}
	if o.WinConns > 0 {
		// The reserved connections run only InsertAuctions's INSERT ...
		// VALUES: a generic plan of those locks only the partitioned
		// parents (a row's partition is opened when the row is routed to
		// it), so they may keep one and skip planning each execution, a
		// measurable part of the database's CPU per win.
		if s.wins, err = newPool(ctx, url, o.WinConns, "auto"); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

func newPool(ctx context.Context, url string, maxConns int32, planCacheMode string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// Fail fast when the server is gone instead of hanging a request.
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	// Plan every statement with its values (planCacheMode
	// force_custom_plan): partitions are then pruned
	// while planning, and only the partitions a statement touches are
	// locked. A generic plan of a prepared statement locks every partition
	// of every table it names (PostgreSQL up to 15 at least) before
	// pruning: hundreds of partitions and their indexes per query, enough
	// to fill the lock table.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = planCacheMode
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return pool, nil
}

// rollbackIfOpen ends the transaction a failed batch left open on conn, so
// that it goes back to the pool idle: Release drops a connection that is
// still in a transaction (and a broken one anyway).
func rollbackIfOpen(conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Exec(ctx, "ROLLBACK")
}

// WinPool is the pool reserved for storing wins (Pool when none is).
func (s *Store) WinPool() *pgxpool.Pool { return s.wins }

// Close closes every connection of both pools.
func (s *Store) Close() {
	if s.wins != s.Pool {
		s.wins.Close()
	}
	s.Pool.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

// Now is the database's clock (statement_timestamp()): leases, claims and
// anything several instances compare use it, never an instance's own clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.Pool.QueryRow(ctx, `SELECT statement_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("store: database clock: %w", err)
	}
	return t, nil
}
