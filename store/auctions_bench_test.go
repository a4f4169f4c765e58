package store_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// benchWin is a win as `bridge bench` stores it: nurl delivery, the DSP's
// nurl and burl with their macros, created_at left to the database.
func benchWin(now time.Time, i int) store.Auction {
	const notice = "http://127.0.0.1:46417/%s?price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&auction=${AUCTION_ID}" +
		"&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&seat=${AUCTION_SEAT_ID}&ad=${AUCTION_AD_ID}"
	return store.Auction{ExtID: store.NewExtID(now), AuctionID: "1dcc9988c9a3bc555b7d4786fa4124ca", RequestID: strconv.Itoa(i),
		CreativeID: "b0c0000000000000000000000000a004", DSP: "dsp1", Seat: "sim", BidID: "2-0", AdID: "ad-0",
		PriceMicros: 1_000_000, BidCurrency: "USD", BidPrice: "1.00", NURL: strings.Replace(notice, "%s", "win", 1),
		BURL: strings.Replace(notice, "%s", "bill", 1), ClickURL: "https://advertiser.example", ADomain: "advertiser.example",
		CrID: "cr-0", W: 320, H: 50, Delivery: "nurl", CreativePath: "nurl"}
}

// BenchmarkInsertAuctions stores batches of wins one after another on the
// reserved win connections, as one Batcher writer does, and reports the
// database backends' CPU per batch (pg-ns/op, from /proc/PID/schedstat:
// the database runs on this machine) beside this process's (go-ns/op: the
// bridge's side, with the building of the wins, which is the same for
// every way of storing them). With
// BRIDGE_TEST_DATABASE_URL pointing at a server with fsync on, the commit is
// as durable as in production; the throwaway test cluster has it off.
func BenchmarkInsertAuctions(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenWith(ctx, testdb.URL(b), store.Options{MaxConns: 4, WinConns: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if _, err := st.EnsurePartitions(ctx, "auctions", now.Add(-24*time.Hour), now.Add(48*time.Hour), 24*time.Hour); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 4, 16, 64} {
		b.Run("wins="+strconv.Itoa(n), func(b *testing.B) {
			wins := make([]store.Auction, n)
			// Warm the statement caches and the plans (a generic plan is
			// tried after five custom ones).
			for range 8 {
				for i := range wins {
					wins[i] = benchWin(now, i)
				}
				if err := st.InsertAuctions(ctx, wins); err != nil {
					b.Fatal(err)
				}
			}
			pids := backendPIDs(b, st)
			before, self := cpuOf(b, pids), selfCPU()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for i := range wins {
					wins[i] = benchWin(now, i)
				}
				b.StartTimer()
				if err := st.InsertAuctions(ctx, wins); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuOf(b, pids)-before)/float64(b.N), "pg-ns/op")
			b.ReportMetric(float64(selfCPU()-self)/float64(b.N), "go-ns/op")
		})
	}
}

// backendPIDs are the server processes of the win connections.
func backendPIDs(b *testing.B, st *store.Store) []int {
	rows, err := st.Pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

// selfCPU is the CPU time this process has used (user and system, every
// goroutine and the garbage collector), in nanoseconds.
func selfCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuOf sums the CPU time the processes have run, in nanoseconds.
func cpuOf(b *testing.B, pids []int) int64 {
	var sum int64
	for _, p := range pids {
		s, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/schedstat")
		if err != nil {
			b.Skipf("database backend CPU not readable (the server is not on this machine?): %v", err)
		}
		f := strings.Fields(string(s))
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		sum += ns
	}
	return sum
}
