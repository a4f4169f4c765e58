package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// pgCost reads what the database has done so far: WAL bytes and the CPU ticks (1/100 s) of its processes (/proc: the
// test cluster runs on this machine).
func pgCost(b *testing.B, st *store.Store) (walBytes, ticks float64) {
	ctx := context.Background()
	// WAL bytes from the insert position (exact: the cluster is this test
	// binary's own); pg_stat_wal's counters reach the view only when each
	// backend flushes its statistics (at most once a second).
	if err := st.Pool.QueryRow(ctx, `SELECT (pg_current_wal_insert_lsn() - '0/0')::float8`).Scan(&walBytes); err != nil {
		b.Fatal(err)
	}
	rows, err := st.Pool.Query(ctx, `SELECT pid FROM pg_stat_activity`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + s
	}
	return walBytes, ticks
}

// costBatch is the views of one group commit in BenchmarkViewCost.
const costBatch = 64

// BenchmarkViewGroupCost is the database's CPU per view of a group of
// views as commitViews stores it (its wins' look-up, the leased insert,
// the outcomes of its notices) by the size of the group: what a bigger
// group saves, mostly planning (one plan of each statement per group).
func BenchmarkViewGroupCost(b *testing.B) {
	for _, n := range []int{16, 48} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			st := testdb.New(b)
			// Daily partitions around today, as a running bridge makes
			// them ahead (retention): the statements can name them.
			for _, table := range store.PartitionedTables {
				if _, err := st.EnsurePartitions(ctx, table, time.Now().AddDate(0, 0, -1), time.Now().AddDate(0, 0, 2), 24*time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			var t float64
			for it := 0; it < b.N+1; it++ {
				now := time.Now().UTC()
				wins := make([]store.Auction, n)
				vs := make([]store.ViewWrite, n)
				ids := make([]string, n)
				for i := range wins {
					ext := store.NewExtID(now)
					ids[i] = ext
					wins[i] = store.Auction{ExtID: ext, AuctionID: "r", RequestID: "0", CreativeID: "c", DSP: "alpha",
						PriceMicros: 2_000_000, BidPrice: "2", BidCurrency: "USD", BURL: "http://127.0.0.1:1/b", CreatedAt: now}
					vs[i] = store.ViewWrite{Event: store.Event{ExtID: ext, CaseID: fmt.Sprintf("%032x", i), Type: "view",
						PriceMicros: 2_000_000, RateNanos: 50_000_000, Value: 4_000_000, CreatedAt: now, WinAt: now},
						DSP: "alpha", BURL: "http://127.0.0.1:1/b?" + ext}
				}
				if err := st.InsertAuctions(ctx, wins); err != nil {
					b.Fatal(err)
				}
				if it == 1 { // the first round warms up
					b.ResetTimer()
					t = 0
				}
				_, t1 := pgCost(b, st)
				if got, err := st.GetAuctions(ctx, ids); err != nil || len(got) != n {
					b.Fatal(len(got), err)
				}
				lease := store.NoticeLease{Token: "tok", For: 30 * time.Second}
				recs, err := st.RecordViewsLeased(ctx, vs, lease)
				if err != nil {
					b.Fatal(err)
				}
				var outs []store.Outcome
				for i, r := range recs {
					for _, nt := range vs[i].LeasedNotices(r, lease.Token) {
						outs = append(outs, store.Outcome{Notice: nt, Status: store.NoticeDelivered, At: time.Now(), HTTPStatus: 200, Attempted: true})
					}
				}
				if lost, err := st.RecordOutcomes(ctx, outs); err != nil || len(lost) != 0 {
					b.Fatal(lost, err)
				}
				_, t2 := pgCost(b, st)
				t += t2 - t1
			}
			b.ReportMetric(t*10000/float64(b.N*n), "pgCPUus/view")
		})
	}
}

// BenchmarkViewCost is the database's work per billed view with a burl, in
// WAL and CPU (stable under load, unlike time): the group's insert, then
// the notice's claim (claimed: the poll's path) or none (leased: handed to
// the worker from memory), then its outcome. The wins' insert is left out.
func BenchmarkViewCost(b *testing.B) {
	for _, mode := range []string{"claimed", "leased"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			st := testdb.New(b)
			var wb, t float64
			for it := 0; it < b.N+1; it++ {
				now := time.Now().UTC()
				wins := make([]store.Auction, costBatch)
				vs := make([]store.ViewWrite, costBatch)
				for i := range wins {
					ext := fmt.Sprintf("c%d_%d", it, i)
					wins[i] = store.Auction{ExtID: ext, AuctionID: "r", RequestID: "0", CreativeID: "c", DSP: "alpha",
						PriceMicros: 2_000_000, BidPrice: "2", BidCurrency: "USD", BURL: "http://127.0.0.1:1/b", CreatedAt: now}
					vs[i] = store.ViewWrite{Event: store.Event{ExtID: ext, CaseID: fmt.Sprintf("%032x", i), Type: "view",
						PriceMicros: 2_000_000, RateNanos: 50_000_000, Value: 4_000_000, CreatedAt: now, WinAt: now},
						DSP: "alpha", BURL: "http://127.0.0.1:1/b?" + ext}
				}
				if err := st.InsertAuctions(ctx, wins); err != nil {
					b.Fatal(err)
				}
				if it == 1 { // the first round warms up
					b.ResetTimer()
					wb, t = 0, 0
				}
				wb1, t1 := pgCost(b, st)
				var ns []store.Notice
				if mode == "claimed" {
					if _, err := st.RecordViews(ctx, vs); err != nil {
						b.Fatal(err)
					}
					var err error
					ns, _, err = st.ClaimNotices(ctx, store.Claim{Lease: 30 * time.Second, Since: now.Add(-time.Hour),
						Until: now.Add(time.Hour), Token: "tok", Quota: map[string]int{"alpha": costBatch}})
					if err != nil || len(ns) != costBatch {
						b.Fatal(len(ns), err)
					}
				} else {
					lease := store.NoticeLease{Token: "tok", For: 30 * time.Second}
					recs, err := st.RecordViewsLeased(ctx, vs, lease)
					if err != nil {
						b.Fatal(err)
					}
					for i, r := range recs {
						ns = append(ns, vs[i].LeasedNotices(r, lease.Token)...)
					}
				}
				outs := make([]store.Outcome, len(ns))
				for i, n := range ns {
					outs[i] = store.Outcome{Notice: n, Status: store.NoticeDelivered, At: time.Now(), HTTPStatus: 200, Attempted: true}
				}
				if lost, err := st.RecordOutcomes(ctx, outs); err != nil || len(lost) != 0 {
					b.Fatal(lost, err)
				}
				wb2, t2 := pgCost(b, st)
				wb, t = wb+wb2-wb1, t+t2-t1
			}
			views := float64(b.N * costBatch)
			b.ReportMetric(wb/views, "walB/view")
			b.ReportMetric(t*10000/views, "pgCPUus/view")
		})
	}
}

// BenchmarkGetAuctions is the bridge's side of a group's look-up of its
// wins (allocations are the stable figure): 16 wins shaped like those of
// `bridge bench`.
func BenchmarkGetAuctions(b *testing.B) {
	ctx := context.Background()
	st := testdb.New(b)
	now := time.Now()
	wins := make([]store.Auction, 16)
	ids := make([]string, len(wins))
	for i := range wins {
		wins[i] = benchWin(now, i)
		wins[i].ImpressionURLs = []string{"http://127.0.0.1:1/p?" + strconv.Itoa(i)}
		ids[i] = wins[i].ExtID
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if got, err := st.GetAuctions(ctx, ids); err != nil || len(got) != len(ids) {
			b.Fatal(len(got), err)
		}
	}
}
