package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %d has version %d: versions must be contiguous from 1", i, m.Version)
		}
	}
}

func TestMigrateFromEmptyThenNoop(t *testing.T) {
	ctx := context.Background()
	// testdb databases are already migrated; start from an empty schema.
	st := testdb.New(t)
	resetSchema(t, st)

	applied, err := st.Migrate(ctx)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	all, _ := store.Migrations()
	if len(applied) != len(all) {
		t.Fatalf("applied %v, want all %d migrations", applied, len(all))
	}
	again, err := st.Migrate(ctx)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", again)
	}
	if n, err := st.PendingMigrations(ctx); err != nil || n != 0 {
		t.Fatalf("pending = %d, %v; want 0", n, err)
	}
	for _, table := range []string{"auctions", "events", "outbox", "payment_reports", "settings"} {
		var exists bool
		if err := st.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s missing after migrate (%v)", table, err)
		}
	}
}

func TestConcurrentMigrateAppliesEachOnce(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	first, err := store.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	resetSchema(t, first)

	const n = 4
	var wg sync.WaitGroup
	results := make([][]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.Open(ctx, url, 2)
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			results[i], errs[i] = st.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += len(results[i])
	}
	all, _ := store.Migrations()
	if total != len(all) {
		t.Fatalf("migrations applied %d times in all, want exactly %d", total, len(all))
	}
	var rows int
	first.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows)
	if rows != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(all))
	}
}

func TestPendingMigrationsOnEmptyDatabase(t *testing.T) {
	st := testdb.New(t)
	resetSchema(t, st)
	if _, err := st.PendingMigrations(context.Background()); err == nil {
		t.Fatal("want an error when schema_migrations does not exist")
	}
}

func resetSchema(t *testing.T, st *store.Store) {
	t.Helper()
	if _, err := st.Pool.Exec(context.Background(), "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
}
