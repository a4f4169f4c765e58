package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// Notices of a leased group are stored claimed by the lease's token until
// the lease passes (the database's clock): no claim takes them before, any
// claim takes them after, and the notices LeasedNotices builds name their
// rows exactly (their outcome records with the lease's token).
func TestRecordViewsLeasedStoresClaimedNotices(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	for _, w := range []string{"L1", "L2", "L3"} {
		insertWin(t, st, w)
	}
	var dbNow time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT statement_timestamp()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	vs := []store.ViewWrite{
		{Event: view("L1", 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b?L1"},
		{Event: view("L2", 1), DSP: "alpha", Impressions: []string{"http://127.0.0.1:1/p1", "http://127.0.0.1:1/p2"}},
		{Event: view("L3", 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b?L3", Impressions: []string{"http://127.0.0.1:1/p3"}},
		{Event: view("L1", 2), DSP: "alpha", BURL: "http://127.0.0.1:1/b?L1"}, // a repeat: no notices
	}
	for i := range vs {
		vs[i].Event.EnqueuedAt = time.Unix(1700000000, 123456789) // nanoseconds the database cannot hold
	}
	lease := store.NoticeLease{Token: "mine", For: time.Hour}
	recs, err := st.RecordViewsLeased(ctx, vs, lease)
	if err != nil {
		t.Fatal(err)
	}
	var ns []store.Notice
	for i, r := range recs {
		ns = append(ns, vs[i].LeasedNotices(r, lease.Token)...)
	}
	want := []struct{ ext, kind, url string }{
		{"L1", "burl", "http://127.0.0.1:1/b?L1"}, {"L2", "imp", "http://127.0.0.1:1/p1"}, {"L2", "imp", "http://127.0.0.1:1/p2"},
		{"L3", "burl", "http://127.0.0.1:1/b?L3"}, {"L3", "imp", "http://127.0.0.1:1/p3"},
	}
	if len(ns) != len(want) || recs[1].Impressions != 2 || recs[3].EventID == 0 {
		t.Fatalf("leased notices %+v (records %+v), want %d", ns, recs, len(want))
	}
	for i, w := range want {
		if n := ns[i]; n.ExtID != w.ext || n.Kind != w.kind || n.URL != w.url || n.DSP != "alpha" || n.Claim != "mine" || n.Attempts != 0 {
			t.Errorf("notice %d = %+v, want %+v", i, n, w)
		}
	}
	for _, ext := range []string{"L1", "L2", "L3"} {
		rows, err := st.NoticesOf(ctx, ext)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Status != "pending" || r.NextAttempt.Before(dbNow.Add(lease.For-time.Minute)) || r.NextAttempt.After(dbNow.Add(lease.For+time.Minute)) {
				t.Errorf("%s %s: next attempt %s, want the lease's end (about %s)", ext, r.Kind, r.NextAttempt, dbNow.Add(lease.For))
			}
		}
	}
	claim := func(at time.Time) []store.Notice {
		got, _, err := st.ClaimNotices(ctx, store.Claim{Now: at, Lease: time.Minute, Since: time.Unix(1699990000, 0),
			Token: "other", Quota: map[string]int{"alpha": 10}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := claim(dbNow.Add(lease.For - time.Minute)); len(got) != 0 {
		t.Fatalf("claimed %d notices while their lease holds", len(got))
	}
	// The holder records its outcomes with the notices built in memory.
	outs := []store.Outcome{{Notice: ns[0], Status: store.NoticeDelivered, At: dbNow, HTTPStatus: 200, Attempted: true},
		{Notice: ns[1], Status: store.NoticeDelivered, At: dbNow, HTTPStatus: 204, Attempted: true}}
	if lost, err := st.RecordOutcomes(ctx, outs); err != nil || len(lost) != 0 {
		t.Fatalf("outcomes of the lease's holder: lost %v, %v", lost, err)
	}
	// After the lease passes, the three not recorded come back to any worker.
	if got := claim(dbNow.Add(lease.For + time.Minute)); len(got) != 3 {
		t.Fatalf("claimed %d notices after the lease, want 3", len(got))
	}
	// The lease's holder lost them: its outcome is refused.
	if err := st.MarkDelivered(ctx, ns[2], dbNow, 200); err != store.ErrClaimLost {
		t.Fatalf("outcome after the lease was taken over: %v, want ErrClaimLost", err)
	}
}

// Migration 010 moves a populated, partitioned outbox to its indexes:
// every partition has the new ones, none of the old, and claims, the
// metrics scrape and the win-notice look-ups find the same rows.
func TestOutboxIndexesMigrationOnAPopulatedDatabase(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	resetSchema(t, st)
	if _, err := st.MigrateTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.EnsurePartitions(ctx, "outbox", day, day.AddDate(0, 0, 2), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool.Exec(ctx, `INSERT INTO outbox (ext_id, dsp, kind, url, status, created_at, next_attempt_at)
		VALUES ('o1', 'alpha', 'burl', 'http://127.0.0.1/b', 'pending', $1, $1),
		       ('o2', 'alpha', 'nurl', 'http://127.0.0.1/n', 'pending', $2, $2),
		       ('o3', 'alpha', 'burl', 'http://127.0.0.1/b', 'undelivered', $2, $2),
		       ('o4', 'alpha', 'burl', 'http://127.0.0.1/b', 'delivered', $2, $2)`, day.Add(time.Hour), day.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Pool.Query(ctx, `SELECT c.relname, array_agg(pg_get_indexdef(x.indexrelid) ORDER BY x.indisprimary DESC, pg_get_indexdef(x.indexrelid))
		FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_index x ON x.indrelid = c.oid
		WHERE h.inhparent = 'outbox'::regclass GROUP BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	parts := 0
	for rows.Next() {
		var part string
		var defs []string
		if err := rows.Scan(&part, &defs); err != nil {
			t.Fatal(err)
		}
		parts++
		if len(defs) != 3 || !strings.HasSuffix(defs[0], "(id, created_at)") ||
			!strings.HasSuffix(defs[1], "(dsp, status, next_attempt_at) WHERE (status <> 'delivered'::text)") ||
			!strings.HasSuffix(defs[2], "(ext_id) WHERE (kind = 'nurl'::text)") {
			t.Errorf("%s has indexes\n%s\nwant its pkey, the open-notice and the nurl index", part, strings.Join(defs, "\n"))
		}
	}
	if rows.Err() != nil || parts < 3 {
		t.Fatalf("%d outbox partitions, %v", parts, rows.Err())
	}
	got, _, err := st.ClaimNotices(ctx, store.Claim{Now: day.AddDate(0, 0, 1).Add(2 * time.Hour), Lease: time.Minute, Since: day,
		Token: "t", Quota: map[string]int{"alpha": 10}})
	if err != nil || len(got) != 2 {
		t.Fatalf("claimed %d, %v; want the two pending", len(got), err)
	}
	open, err := st.OpenOutboxByDSP(ctx, day)
	if err != nil || len(open) != 1 || open[0].Pending != 2 || open[0].Undelivered != 1 {
		t.Fatalf("open notices %+v, %v", open, err)
	}
}
