package events_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// BenchmarkView measures the whole view path over loopback HTTP: parse,
// look the win up, insert the billed view and its burl notice, commit, 204.
// Every iteration is the first view of its own win (the most expensive case).
// Run: go test -run - -bench View -benchtime 5000x ./events/
func BenchmarkView(b *testing.B) {
	ctx := context.Background()
	st := testdb.New(b)
	e := newEnv(b, st, nil)
	for start := 0; start < b.N; start += 1000 {
		var wins []store.Auction
		for i := start; i < min(start+1000, b.N); i++ {
			wins = append(wins, store.Auction{ExtID: fmt.Sprintf("b%d", i), AuctionID: "a", RequestID: "0",
				CreativeID: "c", DSP: "sim", PriceMicros: 1_500_000, BidPrice: "1.5", BURL: e.dsp.URL + "/b?p=${AUCTION_PRICE}"})
		}
		if err := st.InsertAuctions(ctx, wins); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next, failed atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS concurrent AdServer calls
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			resp, err := client.Get(fmt.Sprintf("%s/view?extid=b%d&cid=%032x&iid=%032x", e.srv.URL, i, i, i))
			if err != nil || resp.StatusCode != 204 {
				failed.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if failed.Load() > 0 {
		b.Fatalf("%d views failed", failed.Load())
	}
	var n int
	st.Pool.QueryRow(ctx, "SELECT count(*) FROM events WHERE value > 0").Scan(&n)
	if n != b.N {
		b.Fatalf("%d billed views stored, want %d", n, b.N)
	}
}
