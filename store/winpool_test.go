package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// A big period is settled (in chunks) while every other connection of the
// pool is taken by slow queries (views stuck behind a slow disk, an
// operator's long report): wins still get their connections and are
// stored well within /bid's deadline. The same load on one shared pool
// makes the win wait for a connection until its deadline passes, which is
// what the reserve is for.
func TestWinsAreStoredWhileABigPeriodSettles(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	st, err := store.OpenWith(ctx, url, store.Options{MaxConns: 6, WinConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	period := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	const views = 60_000
	if _, err := st.Pool.Exec(ctx, `INSERT INTO events (ext_id, case_id, type, dsp, price_micros, rate_nanos, value, created_at)
		SELECT 'big' || g, md5(g::text), 'view', 'alpha', 1000, 50000000, 2000000, $1::timestamptz + g * interval '50 ms'
		FROM generate_series(1, $2::int) g`, period, views); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OpenReports(ctx, time.Hour, period, period); err != nil {
		t.Fatal(err)
	}

	// Slow queries hold every connection of the main pool but the
	// settler's.
	hold := func(st *store.Store, n int, d time.Duration) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st.Pool.Exec(ctx, `SELECT pg_sleep($1)`, d.Seconds())
			}()
		}
		return &wg
	}
	settled := make(chan error, 1)
	go func() {
		r, _, err := st.SettleReport(ctx, period.Unix(), period.Add(2*time.Hour), 5000)
		if err == nil && r.Views != views {
			err = fmt.Errorf("report has %d views, want %d", r.Views, views)
		}
		settled <- err
	}()
	slow := hold(st, 3, 3*time.Second)
	time.Sleep(100 * time.Millisecond) // let them take their connections
	stored := 0
	for i := 0; ; i++ {
		select {
		case err := <-settled:
			if err != nil {
				t.Fatal(err)
			}
			slow.Wait()
			if stored == 0 {
				t.Fatal("settlement ended before any win was tried")
			}
			t.Logf("%d wins stored while %d views were settled in chunks of 5000 and the pool was busy", stored, views)
			checkSharedPoolStarves(t, url)
			return
		default:
		}
		winCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := st.InsertAuctions(winCtx, []store.Auction{{ExtID: fmt.Sprintf("live%d", i), AuctionID: "a", RequestID: "0",
			CreativeID: "c", DSP: "alpha", PriceMicros: 1000}})
		cancel()
		if err != nil {
			t.Fatalf("win %d not stored while settling: %v", i, err)
		}
		stored++
	}
}

// checkSharedPoolStarves is the same load without a reserve: the win's
// deadline passes while it waits for a connection.
func checkSharedPoolStarves(t *testing.T, url string) {
	ctx := context.Background()
	shared, err := store.OpenWith(ctx, url, store.Options{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shared.Pool.Exec(ctx, `SELECT pg_sleep(2)`)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	winCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = shared.InsertAuctions(winCtx, []store.Auction{{ExtID: "starved", AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha", PriceMicros: 1000}})
	wg.Wait()
	if err == nil {
		t.Fatal("a win was stored in time through a pool every connection of which was busy: the test does not load the pool")
	}
}
