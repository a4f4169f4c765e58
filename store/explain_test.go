package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// day0 is the first of the 30 days of history the plan tests hold.
var day0 = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return day0.AddDate(0, 0, n) }

// historyDB is a database with 30 daily partitions of every partitioned
// table, a little traffic in each (wins, a billed view and a repeat view
// per win, a burl per billed view, reports of the first 20 days settled)
// and fresh statistics.
func historyDB(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := testdb.New(t)
	for _, table := range store.PartitionedTables {
		if _, err := st.EnsurePartitions(ctx, table, day(0), day(30), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, sql := range []string{
		`INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, price_micros, burl, created_at)
			SELECT 'h' || g, 'a', '0', 'c', 'dsp' || (g % 3), 1000 + g, 'http://127.0.0.1:1/b', $1::timestamptz + g * interval '1 minute'
			FROM generate_series(0, 30 * 24 * 60 - 1) g`,
		`INSERT INTO events (ext_id, case_id, type, dsp, price_micros, rate_nanos, value, created_at)
			SELECT ext_id, md5(ext_id), 'view', dsp, price_micros, 50000000, price_micros * 2000, created_at + interval '10 seconds' FROM auctions`,
		`INSERT INTO events (ext_id, case_id, type, dsp, price_micros, rate_nanos, value, unbilled_reason, created_at)
			SELECT ext_id, md5(ext_id || 'x'), 'view', dsp, price_micros, 50000000, 0, 'repeat', created_at + interval '20 seconds' FROM auctions`,
		`INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, status, created_at, next_attempt_at)
			SELECT ext_id, id, created_at, dsp, 'burl', 'http://127.0.0.1:1/b',
				CASE WHEN id % 10 = 0 THEN 'undelivered' WHEN created_at > $1::timestamptz + interval '29 days' THEN 'pending' ELSE 'delivered' END,
				created_at, created_at
			FROM events WHERE value > 0`,
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, day0)
		}
		if _, err := st.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.OpenReports(ctx, 24*time.Hour, day(0), day(20)); err != nil {
		t.Fatal(err)
	}
	for d := 0; d < 20; d++ {
		if _, _, err := st.SettleReport(ctx, day(d).Unix(), day(21), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	return st
}

// planNode is one node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Plans    []planNode `json:"Plans"`
}

// scans lists every relation the plan reads, with how.
func (n planNode) scans(out map[string]string) {
	if n.Relation != "" {
		out[n.Relation] = n.NodeType
	}
	for _, c := range n.Plans {
		c.scans(out)
	}
}

func explain(t *testing.T, st *store.Store, seqscan bool, sql string, args ...any) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := st.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	setting := "on"
	if !seqscan {
		setting = "off"
	}
	if _, err := conn.Exec(ctx, "SET enable_seqscan = "+setting); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "RESET enable_seqscan")
	var raw string
	// The values go into the text (simple protocol): the plan is the custom
	// plan the bridge gets (plan_cache_mode = force_custom_plan).
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...).Scan(&raw); err != nil {
		t.Fatalf("explain: %v (%d args)\n%s", err, len(args), sql)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output: %v\n%s", err, raw)
	}
	out := map[string]string{}
	plans[0].Plan.scans(out)
	return out
}

// span is the created_at range of one table a query may read: a partition
// overlapping [from, to] is allowed, any other is history it must prune.
type span struct{ from, to time.Time }

var (
	always  = time.Unix(0, 0).UTC()
	forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TestOperatorQueriesPruneHistory runs EXPLAIN on every query of the hot
// paths, the operator commands, /readyz and the metrics scrape, against 30
// days of partitions, and fails when a query reads a partition outside the
// time it is about (history it should have pruned), or, for the queries
// that run per request or per scrape, when a partition can only be read by
// a sequential scan (checked with enable_seqscan off: a Seq Scan left then
// has no index to use).
func TestOperatorQueriesPruneHistory(t *testing.T) {
	ctx := context.Background()
	st := historyDB(t)
	parts := map[string][]store.Partition{}
	for _, table := range store.PartitionedTables {
		p, err := st.Partitions(ctx, table)
		if err != nil || len(p) != 31 {
			t.Fatalf("partitions of %s: %d, %v; want 30 and the default", table, len(p), err)
		}
		parts[table] = p
	}
	rep, err := st.GetReport(ctx, day(5).Unix())
	if err != nil || rep.Status != store.StatusDone || rep.EventsFrom == nil {
		t.Fatalf("report of day 5: %+v %v", rep, err)
	}
	open, err := st.GetReport(ctx, day(20).Unix())
	if err != nil {
		t.Fatal(err)
	}
	repSpan := span{*rep.EventsFrom, *rep.EventsTo}
	settled, settledArgs, _ := store.ReportRows(rep, false)
	provisional, provisionalArgs, _ := store.ReportRows(open, true)
	cid := fmt.Sprintf("%032x", 7)
	// A save of two wins, one public (its creative) and one inline (its
	// held notice): what /bid writes reads no partition at all.
	sum := sha256.Sum256([]byte("creative"))
	save := store.WinBatch([]store.Auction{
		{ExtID: "s1", AuctionID: "a", RequestID: "0", CreativeID: cid, DSP: "dsp1", PriceMicros: 5, Delivery: "public",
			ServeToken: "tok", CreativeSHA256: sum[:], Creative: &store.Creative{SHA256: sum[:], ContentType: "image/png", Bytes: []byte("x")}},
		{ExtID: "s2", AuctionID: "a", RequestID: "1", CreativeID: cid, DSP: "dsp1", PriceMicros: 5, Delivery: "inline",
			WinNotice: "http://127.0.0.1:1/n", WinNoticeDue: day(29), CreatedAt: day(29)},
	}).QueuedQueries
	if len(save) != 3 {
		t.Fatalf("a save of a creative, two wins and a notice is %d statements, want 3", len(save))
	}
	tests := []struct {
		name  string
		sql   string
		args  []any
		reads map[string]span
		perOp bool // runs per request or scrape: index access only
	}{
		{"/bid: store the creatives of public wins", save[0].SQL, save[0].Arguments, nil, true},
		{"/bid: store the wins", save[1].SQL, save[1].Arguments, nil, true},
		{"/bid: store the held win notices", save[2].SQL, save[2].Arguments, nil, true},
		{"/view: the win, near its ext_id's time", store.SQLGetAuctionNear, []any{"h5", day(3).Add(-time.Hour), day(3).Add(time.Hour)},
			map[string]span{"auctions": {day(3).Add(-time.Hour), day(3).Add(time.Hour)}}, true},
		{"/bid: release the held win notices", store.SQLReleaseWinNotices, []any{[]string{"h5"}, day(29), day(28)},
			map[string]span{"outbox": {day(28), forever}}, true},
		{"public: the creative of /c/{token}", store.SQLCreativeByToken, []any{"tok", day(28)},
			map[string]span{"auctions": {day(28), forever}}, true},
		{"public: the win notice of the first fetch", store.SQLEnqueueWinNotice, []any{"h5", "dsp1", "http://127.0.0.1:1/w", day(29), day(28)},
			map[string]span{"outbox": {day(28), forever}}, true},
		{"/view: the win of an ext_id without a time", store.SQLGetAuction, []any{"h5"},
			map[string]span{"auctions": {always, forever}}, true},
		{"/view: record, with the win's earlier views", store.SQLRecordView, []any{"h5", cid, "", "", "", int64(1000), int64(50000000), int64(2000000),
			day(3), "dsp1", "http://127.0.0.1:1/b", day(3), day(2), false, day(4), int64(0), int64(0), "1.00", "USD", []string{"http://127.0.0.1:1/p"}},
			map[string]span{"events": {day(2), day(4)}}, true},
		{"/view: the wins of a group of views", store.SQLGetAuctionsNear, []any{[]string{"h5", "h6"}, day(3).Add(-time.Hour), day(3).Add(time.Hour)},
			map[string]span{"auctions": {day(3).Add(-time.Hour), day(3).Add(time.Hour)}}, true},
		{"/view: the wins of a group of views without a time", store.SQLGetAuctions, []any{[]string{"h5", "h6"}},
			map[string]span{"auctions": {always, forever}}, true},
		{"/view: a group's earlier views", store.SQLPriorViews, []any{[]string{"h5", "h6"}, []string{cid, cid},
			[]time.Time{day(2), day(2)}, []time.Time{day(4), day(4)}, day(2), day(4)},
			map[string]span{"events": {day(2), day(4)}}, true},
		{"/click: record", store.SQLRecordClick, []any{"h5", cid, "", "", "", int64(1000), int64(50000000), day(3), "dsp1", day(2), day(4), int64(0)},
			map[string]span{"events": {day(2), day(4)}}, true},
		{"outbox: DSPs with due notices", store.SQLPendingDSPs, []any{day(28), day(29).Add(time.Hour)},
			map[string]span{"outbox": {day(28), day(29).Add(time.Hour)}}, true},
		{"outbox: claim", store.SQLClaim, []any{"dsp1", day(29), "60 seconds", "tok", 16, day(28), day(29).Add(time.Hour)},
			map[string]span{"outbox": {day(28), day(29).Add(time.Hour)}}, true},
		{"outbox: record outcomes", store.SQLRecordOutcomes, []any{[]int64{1, 2}, []time.Time{day(5), day(5)}, []string{"a", "b"},
			[]string{"delivered", "pending"}, []int32{1, 1}, []*time.Time{nil, nil}, []*time.Time{nil, nil}, []int32{200, 503},
			[]string{"", "HTTP 503"}, day(5), day(5).Add(time.Hour)},
			map[string]span{"outbox": {day(5), day(5).Add(time.Hour)}}, true},
		{"metrics scrape: open notices", store.SQLOpenOutbox, []any{day(23), forever},
			map[string]span{"outbox": {day(23), forever}}, true},
		{"/readyz: outbox backlog", store.SQLBacklog, []any{day(28)},
			map[string]span{"outbox": {day(28), forever}}, true},
		{"settlement: oldest unsettled view", store.SQLOpenReports, nil,
			map[string]span{"events": {always, forever}}, true},
		{"settlement: next chunk", store.SQLSettlePick, []any{day(21), 50000},
			map[string]span{"events": {always, day(21)}}, true},
		{"settlement: stamp a chunk", store.SQLSettleStamp, []any{day(20).Unix(), []int64{1, 2}, []time.Time{day(20), day(20)}, []int64{1, 2},
			day(20), day(20).Add(time.Hour)},
			map[string]span{"events": {day(20), day(20).Add(time.Hour)}}, true},
		{"/payment-details: a page", store.SQLReportDetails, []any{rep.ID, int64(5000), int64(0), repSpan.from, repSpan.to},
			map[string]span{"events": repSpan}, true},
		{"payments show --details: a settled report", store.SQLBilledViews + settled, settledArgs,
			map[string]span{"events": repSpan}, true},
		{"payments show: a settled report per DSP", store.SQLReportTotals + settled + " GROUP BY e.dsp", settledArgs,
			map[string]span{"events": repSpan}, true},
		{"payments verify: a report's rows", store.SQLVerifyRows, []any{rep.ID, repSpan.from, repSpan.to},
			map[string]span{"events": repSpan}, true},
		{"payments show --details: a processing report", store.SQLBilledViews + provisional, provisionalArgs,
			map[string]span{"events": {day(20), day(21)}}, false},
		{"payments show: a processing report per DSP", store.SQLReportTotals + provisional + " GROUP BY e.dsp", provisionalArgs,
			map[string]span{"events": {day(20), day(21)}}, false},
		{"payments reconcile --from --to", store.SQLBilledByDay, []any{"dsp1", day(3), day(5), "UTC"},
			map[string]span{"events": {day(3), day(5)}}, false},
		{"payments dsps --from --to", store.SQLDSPSpend, []any{day(3), day(5)},
			map[string]span{"events": {day(3), day(5)}, "outbox": {day(3), day(5)}}, false},
		{"payments verify --from --to: event values", store.SQLVerifyEvents, []any{day(3), day(5)},
			map[string]span{"events": {day(3), day(5)}}, false},
		{"payments verify --from --to: billed views", store.SQLCountBilled, []any{day(3), day(5)},
			map[string]span{"events": {day(3), day(5)}}, false},
		{"outbox status --from --to", fmt.Sprintf(store.SQLOutboxStats, ""), []any{day(3), day(5)},
			map[string]span{"outbox": {day(3), day(5)}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, seqscan := range []bool{true, false} {
				scans := explain(t, st, seqscan, tc.sql, tc.args...)
				for _, table := range store.PartitionedTables {
					for _, p := range parts[table] {
						how, read := scans[p.Name]
						if !read || p.Default {
							continue
						}
						sp, allowed := tc.reads[table]
						// Ranges are half-open [from, to); a point query's to is inclusive.
						if !allowed || !p.From.Before(sp.to.Add(time.Nanosecond)) || !p.To.After(sp.from) {
							t.Errorf("reads %s (%s .. %s) by %s: history outside the query's time", p.Name,
								p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), how)
						}
						if tc.perOp && !seqscan && how == "Seq Scan" {
							t.Errorf("%s can only be read by a sequential scan", p.Name)
						}
					}
				}
				if tc.perOp && seqscan {
					t.Logf("%d partitions read", countPartitions(scans))
				}
			}
		})
	}
}

func countPartitions(scans map[string]string) int {
	n := 0
	for name := range scans {
		if strings.Contains(name, "_p") {
			n++
		}
	}
	return n
}

// TestInsertViewsGenericPlanReadsNoPartition checks what lets the group's
// insert keep one generic plan: it reads no table, it only inserts into
// the partitioned parents (a generic plan of a statement that reads a
// partitioned table would lock all of its partitions at every execution).
func TestInsertViewsGenericPlanReadsNoPartition(t *testing.T) {
	ctx := context.Background()
	st := historyDB(t)
	conn, err := st.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	types := "int[], text[], text[], text[], text[], text[], bigint[], bigint[], bigint[], timestamptz[], text[], text[], " +
		"bigint[], bigint[], text[], text[], text[], timestamptz[], bigint[], int[], text[], int[], text, interval"
	for _, sql := range []string{
		"SET plan_cache_mode = force_generic_plan",
		"PREPARE iv(" + types + ") AS " + store.SQLInsertViews,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.Exec(ctx, "DEALLOCATE iv; RESET plan_cache_mode")
	var raw string
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE iv("+strings.TrimSuffix(strings.Repeat("NULL, ", 24), ", ")+")").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output: %v\n%s", err, raw)
	}
	got := map[string]string{}
	plans[0].Plan.scans(got)
	want := map[string]string{"events": "ModifyTable", "outbox": "ModifyTable"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("generic plan of the group's insert touches %v, want only the inserts into the parents %v\n%s", got, want, raw)
	}
}
