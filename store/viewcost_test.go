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
