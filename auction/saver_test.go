package auction

import (
	"context"
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
	b := NewBatcher(st, discard, 2, 64)
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
	b := NewBatcher(st, discard, 0, 0)
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
