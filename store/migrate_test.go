package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// TestPartitioningKeepsRowsAndColumns migrates a populated database of
// schema 4, with columns, a CHECK and an index another migration added
// (as the money migration does), to the partitioned schema: every row,
// column, constraint and index is carried, rows go to their day's
// partition, and ids continue from their sequences.
func TestPartitioningKeepsRowsAndColumns(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	resetSchema(t, st)
	// The schema just before the conversion: the columns migrations 005
	// and 006 added must survive it, and so must an index it does not know.
	if _, err := st.MigrateTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, sql := range []string{
		`CREATE INDEX events_fee ON events (fee_ppm)`,
		`INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, price_micros, burl, created_at, bid_adjustment_ppm)
			VALUES ('a1', 'x', '0', 'c', 'alpha', 1000, 'http://127.0.0.1/b', '2024-05-01 10:00+00', 900000),
			       ('a2', 'x', '0', 'c', 'beta', 2000, '', '2024-05-02 23:59+00', 1000000)`,
		`INSERT INTO payment_reports (id, period_start, period_end, status, value, views)
			VALUES (1714557600, to_timestamp(1714557600), to_timestamp(1714561200), 'done', 20000, 1)`,
		`INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value, created_at, report_id, report_seq, fee_ppm)
			VALUES ('a1', md5('1'), 'view', 1000, 50000000, 20000, '2024-05-01 10:05+00', 1714557600, 1, 7),
			       ('a1', md5('2'), 'view', 1000, 50000000, 0, '2024-05-01 10:06+00', NULL, NULL, 0),
			       ('a2', md5('3'), 'view', 2000, 50000000, 40000, '2024-05-03 00:01+00', NULL, NULL, 0)`,
		`INSERT INTO outbox (ext_id, event_id, dsp, kind, url, status, created_at)
			VALUES ('a1', 1, 'alpha', 'burl', 'http://127.0.0.1/b', 'undelivered', '2024-05-01 10:05+00')`,
	} {
		if _, err := st.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	type row struct {
		part, ext, dsp, reason string
		fee                    int64
	}
	rows, _ := st.Pool.Query(ctx, `SELECT tableoid::regclass::text, ext_id, dsp, unbilled_reason, fee_ppm FROM events ORDER BY id`)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.part, &x.ext, &x.dsp, &x.reason, &x.fee)
	})
	want := []row{{"events_p20240501_0000", "a1", "alpha", "", 7}, {"events_p20240501_0000", "a1", "alpha", "repeat", 0},
		{"events_p20240503_0000", "a2", "beta", "", 0}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("events after migration: %+v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	a, err := st.GetAuction(ctx, "a1")
	var adj int64
	st.Pool.QueryRow(ctx, `SELECT bid_adjustment_ppm FROM auctions WHERE ext_id = 'a1'`).Scan(&adj)
	if err != nil || !a.CreatedAt.Equal(day1) || a.BURL != "http://127.0.0.1/b" || adj != 900000 || partitionOf(t, st, "a2") != "auctions_p20240502_0000" {
		t.Fatalf("win after migration: %+v, adjustment %d, %v", a, adj, err)
	}
	var value, price int64
	var eventAt time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT billed_value, billed_price_micros, event_at FROM outbox`).Scan(&value, &price, &eventAt); err != nil ||
		value != 20000 || price != 1000 || !eventAt.Equal(day1.Add(5*time.Minute)) {
		t.Fatalf("notice after migration: %d %d %s %v", value, price, eventAt, err)
	}
	r, err := st.GetReport(ctx, 1714557600)
	if err != nil || r.EventsFrom == nil || !r.EventsFrom.Equal(day1.Add(5*time.Minute)) {
		t.Fatalf("report bounds after migration: %+v %v", r, err)
	}
	// Constraints and indexes carried to the partitioned tables.
	for _, c := range []struct{ sql, what string }{
		{`UPDATE events SET fee_ppm = 1000000 WHERE ext_id = 'a2'`, "the CHECK of a column another migration added"},
		{`UPDATE auctions SET price_micros = 0 WHERE ext_id = 'a2'`, "price_micros > 0"},
		{`INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, price_micros) VALUES ('bad id', 'x', '0', 'c', 'd', 1)`, "the ext_id pattern"},
		{`UPDATE events SET report_id = 42 WHERE ext_id = 'a2'`, "events.report_id REFERENCES payment_reports"},
	} {
		if _, err := st.Pool.Exec(ctx, c.sql); err == nil {
			t.Errorf("%s is not enforced after migration", c.what)
		}
	}
	var idx bool
	st.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE tablename = 'events_p20240503_0000' AND indexdef LIKE '%(fee_ppm)%')`).Scan(&idx)
	if !idx {
		t.Error("the index another migration added is missing on the partitions")
	}
	var id int64
	if err := st.Pool.QueryRow(ctx, `INSERT INTO events (ext_id, case_id, type, created_at) VALUES ('a2', md5('9'), 'click', now()) RETURNING id`).Scan(&id); err != nil || id != 4 {
		t.Fatalf("next event id %d, %v; want 4 (the sequence survives)", id, err)
	}
	for _, old := range []string{"auctions_old", "events_old", "outbox_old"} {
		var exists bool
		st.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, old).Scan(&exists)
		if exists {
			t.Errorf("%s left behind", old)
		}
	}
}
