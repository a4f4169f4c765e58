package auction

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// TestBatcherStoresConcurrentWinsAndIsolatesABadOne: many auctions saving at
// once all get their wins stored; one invalid row (price 0 breaks the
// table's CHECK) fails only its own auction, even when batched with others.
func TestBatcherStoresConcurrentWinsAndIsolatesABadOne(t *testing.T) {
	st := testdb.New(t)
	b := NewBatcher(st, discard, BatcherOptions{Writers: 2, MaxBatch: 64})
	defer b.Close()
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			price := int64(1000)
			if i == 7 {
				price = 0
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			errs[i] = b.Save(ctx, []store.Auction{{ExtID: "x" + strconv.Itoa(i), AuctionID: "a", RequestID: "0",
				CreativeID: creativePNG, DSP: "d", PriceMicros: price, BidCurrency: "USD"}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Fatalf("auction %d: %v", i, err)
		}
	}
	var count int
	st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM auctions`).Scan(&count)
	if count != n-1 {
		t.Fatalf("%d wins stored, want %d", count, n-1)
	}
}

// TestBatcherWithZeroWritersStillStores: a config built in code that
// leaves database.win_writers 0 gets one writer, not a /bid that waits for
// a writer that never comes.
func TestBatcherWithZeroWritersStillStores(t *testing.T) {
	st := testdb.New(t)
	b := NewBatcher(st, discard, BatcherOptions{})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 3 {
		if err := b.Save(ctx, []store.Auction{{ExtID: "z" + strconv.Itoa(i), AuctionID: "a", RequestID: "0",
			CreativeID: creativePNG, DSP: "d", PriceMicros: 1000, BidCurrency: "USD"}}); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	var count int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM auctions`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 3 {
		t.Fatalf("%d wins stored, want 3", count)
	}
}

// TestBatcherCommitsQueuedReleasesWithWins: held win notices whose answers
// were written are released in the next batch of wins, cancelled ones are
// deleted, and a batch that fails still releases them on their own.
func TestBatcherCommitsQueuedReleasesWithWins(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	hold := time.Now().Add(time.Hour)
	win := func(id string, price int64) store.Auction {
		return store.Auction{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: creativePNG, DSP: "d",
			PriceMicros: price, BidCurrency: "USD", Delivery: "inline", WinNotice: "http://127.0.0.1:1/win?" + id, WinNoticeDue: hold}
	}
	if err := st.InsertAuctions(ctx, []store.Auction{win("h1", 1000), win("h2", 1000), win("h3", 1000)}); err != nil {
		t.Fatal(err)
	}
	// No run goroutine: only the batcher takes from this queue.
	var notified int
	r := &releaser{st: st, notify: func() { notified++ }, log: discard, now: time.Now, queue: make(chan releaseJob, 8), stop: make(chan struct{})}
	b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64})
	b.rel.Store(r)
	r.done([]string{"h1"}, true)
	r.done([]string{"h2"}, false)
	saveCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.Save(saveCtx, []store.Auction{win("w1", 1000)}); err != nil {
		t.Fatal(err)
	}
	r.done([]string{"h3"}, true)
	if err := b.Save(saveCtx, []store.Auction{win("bad", 0)}); err == nil {
		t.Fatal("a win with price 0 was stored")
	}
	b.Close() // waits for the writer, and so for what it applies after answering
	if len(r.queue) != 0 {
		t.Fatalf("%d jobs left in the queue", len(r.queue))
	}
	due := map[string]bool{}
	now := time.Now()
	claimed, _, err := st.ClaimNotices(ctx, store.Claim{Now: now, Lease: time.Minute, Since: now.Add(-time.Hour), Token: "T", Quota: map[string]int{"d": 10}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claimed {
		due[c.ExtID] = true
	}
	if !due["h1"] || !due["h3"] || len(due) != 2 {
		t.Fatalf("due notices %v, want h1 (with w1) and h3 (after the failed batch)", due)
	}
	if notified != 2 {
		t.Fatalf("outbox woken %d times, want 2", notified)
	}
	if ns, _ := st.NoticesOf(ctx, "h2"); len(ns) != 0 {
		t.Fatalf("h2's notice was not cancelled: %+v", ns)
	}
	if ns, _ := st.NoticesOf(ctx, "w1"); len(ns) != 1 {
		t.Fatalf("w1 notices: %+v", ns)
	}
}

// TestBatcherWritesALoneAuctionItselfAndQueuesWhenSlotsAreTaken: with no
// writer goroutine at all, an auction that finds a transaction slot free
// and nobody queued stores its wins itself; one that finds every slot
// taken (database.win_writers bounds the transactions of wins at once)
// does not write on its own but queues, and a writer stores it once a slot
// frees.
func TestBatcherWritesALoneAuctionItselfAndQueuesWhenSlotsAreTaken(t *testing.T) {
	st := testdb.New(t)
	b := &Batcher{st: st, log: discard, queue: make(chan *saveJob, 64), slots: make(chan struct{}, 1), maxBatch: 64, stop: make(chan struct{})}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	win := func(id string) []store.Auction {
		return []store.Auction{{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: creativePNG, DSP: "d", PriceMicros: 1000, BidCurrency: "USD"}}
	}
	if err := b.Save(ctx, win("alone")); err != nil {
		t.Fatal(err)
	}
	// The lone auction's own write hands back its errors too (no channel).
	if err := b.Save(ctx, win("bad\x00")); err == nil {
		t.Fatal("a win PostgreSQL cannot hold (a NUL byte) was stored without an error")
	}
	gone, hangUp := context.WithCancel(ctx)
	hangUp()
	if err := b.Save(gone, win("gone")); !errors.Is(err, context.Canceled) {
		t.Fatalf("the win of a caller gone: %v, want context.Canceled", err)
	}
	b.slots <- struct{}{} // every slot (one) taken
	saved := make(chan error, 1)
	go func() { saved <- b.Save(ctx, win("queued")) }()
	for len(b.queue) == 0 && len(saved) == 0 {
		runtime.Gosched()
	}
	if len(saved) != 0 {
		t.Fatalf("saved (%v) while every slot was taken", <-saved)
	}
	<-b.slots
	b.wg.Add(1)
	go b.run()
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM auctions WHERE ext_id IN ('alone', 'queued')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d of 2 wins stored (%v)", n, err)
	}
}
