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

// billedViews stores n wins with a billed view each, spread over the hour
// from at (and so, with daily partitions, possibly over two partitions).
func billedViews(t *testing.T, st *store.Store, prefix string, n int, at time.Time, step time.Duration) (sum int64) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		ext := fmt.Sprintf("%s%d", prefix, i)
		win := at.Add(time.Duration(i) * step)
		if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: ext, AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha",
			PriceMicros: int64(1000 + i), CreatedAt: win}}); err != nil {
			t.Fatal(err)
		}
		v := int64(1000+i) * 2000
		if _, err := st.RecordView(ctx, store.Event{ExtID: ext, CaseID: fmt.Sprintf("%032x", i), Type: "view", DSP: "alpha",
			PriceMicros: int64(1000 + i), RateNanos: 50_000_000, Value: v, CreatedAt: win.Add(time.Second), WinAt: win}, "alpha", ""); err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

func verifyAll(t *testing.T, st *store.Store) store.Verified {
	t.Helper()
	mm, ver, err := st.VerifyPayments(context.Background(), time.Unix(0, 0), time.Now().AddDate(10, 0, 0))
	if err != nil || len(mm) != 0 {
		t.Fatalf("verify: %+v %v", mm, err)
	}
	return ver
}

// A period settled in chunks: a bridge dying between chunks leaves the
// report processing with consistent progress, the next one finishes it,
// and the positions run 1..n across chunks and partitions.
func TestSettleInChunksSurvivesAStopBetweenChunks(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	start := time.Date(2024, 5, 1, 22, 0, 0, 0, time.UTC)
	// Hourly partitions: the report's views are in two of them.
	if _, err := st.EnsurePartitions(ctx, "events", start, start.Add(4*time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	want := billedViews(t, st, "c", 10, start, 11*time.Minute)
	if _, err := st.OpenReports(ctx, 2*time.Hour, start, start); err != nil {
		t.Fatal(err)
	}
	id, now := start.Unix(), start.Add(3*time.Hour)
	if settled, err := st.SettleOneChunk(ctx, id, now, 3); err != nil || settled {
		t.Fatalf("first chunk: settled %v, %v", settled, err)
	}
	r, _ := st.GetReport(ctx, id)
	if r.Status != store.StatusProcessing || r.Value != nil || r.Views != 0 {
		t.Fatalf("report after one chunk: %+v", r)
	}
	verifyAll(t, st) // progress and rows agree while processing
	r, settled, err := st.SettleReport(ctx, id, now, 3)
	if err != nil || !settled || r.Status != store.StatusDone || r.Views != 10 || *r.Value != want {
		t.Fatalf("finished: %+v (value %v) %v %v; want 10 views, %d", r, r.Value, settled, err, want)
	}
	if !r.EventsFrom.Equal(start.Add(time.Second)) || !r.EventsTo.Equal(start.Add(99*time.Minute+time.Second)) {
		t.Fatalf("report rows bounded by %s..%s", r.EventsFrom, r.EventsTo)
	}
	var sum, n int64
	for off := int64(0); ; off += 4 {
		rows, err := st.ReportDetails(ctx, r, 4, off)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range rows {
			sum, n = sum+d.Value, n+1
		}
		if len(rows) < 4 {
			break
		}
	}
	if sum != want || n != 10 {
		t.Fatalf("details: %d rows adding up to %d, want 10 and %d", n, sum, want)
	}
	if ver := verifyAll(t, st); ver.Reports != 1 || ver.Events != 10 {
		t.Fatalf("verified %+v", ver)
	}
}

// Bridges settling the same big report take turns on its chunks: it is
// settled exactly once, with every view once.
func TestConcurrentChunkedSettlementSettlesOnce(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	want := billedViews(t, st, "k", 40, start, time.Minute)
	if _, err := st.OpenReports(ctx, time.Hour, start, start); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	settled := make(chan bool, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, mine, err := st.SettleReport(ctx, start.Unix(), start.Add(2*time.Hour), 3)
			if err != nil {
				t.Error(err)
			}
			settled <- mine
		}()
	}
	wg.Wait()
	close(settled)
	n := 0
	for s := range settled {
		if s {
			n++
		}
	}
	r, _ := st.GetReport(ctx, start.Unix())
	if n != 1 || r.Views != 40 || *r.Value != want {
		t.Fatalf("settled by %d callers; report %d views, %d clicks; want 1, 40, %d", n, r.Views, *r.Value, want)
	}
	verifyAll(t, st)
}

func TestNoncesAreSharedByInstances(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	a, err := store.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fresh, err := a.UseNonce(ctx, []byte("n1"), time.Minute); !fresh || err != nil {
		t.Fatalf("first use: %v %v", fresh, err)
	}
	if fresh, err := b.UseNonce(ctx, []byte("n1"), time.Minute); fresh || err != nil {
		t.Fatalf("replay at another instance: fresh %v, %v", fresh, err)
	}
	if fresh, err := b.UseNonce(ctx, []byte("n2"), time.Minute); !fresh || err != nil {
		t.Fatalf("another nonce: %v %v", fresh, err)
	}
	// Forgotten once older than keep (by the database's clock).
	if _, err := a.Pool.Exec(ctx, `UPDATE auth_nonces SET seen_at = seen_at - interval '2 minutes' WHERE nonce = 'n2'`); err != nil {
		t.Fatal(err)
	}
	a.UseNonce(ctx, []byte("n3"), time.Minute)
	var left int
	a.Pool.QueryRow(ctx, `SELECT count(*) FROM auth_nonces`).Scan(&left)
	if left != 2 {
		t.Fatalf("%d nonces kept, want 2 (n1, n3)", left)
	}
}
