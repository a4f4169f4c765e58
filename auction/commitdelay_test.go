package auction

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// commits counts the transactions that stored the wins of extIDs (rows
// of one transaction share its xmin).
func commits(t *testing.T, st *store.Store, extIDs []string) int {
	t.Helper()
	var n, rows int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT xmin::text), count(*) FROM auctions WHERE ext_id = ANY($1)`,
		extIDs).Scan(&n, &rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(extIDs) {
		t.Fatalf("%d of %d wins stored", rows, len(extIDs))
	}
	return n
}

func oneWin(id string) []store.Auction {
	return []store.Auction{{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: creativePNG, DSP: "d", PriceMicros: 1000, BidCurrency: "USD"}}
}

// TestCommitDelay: a commit waits for the auctions still running and
// shares their wins; it never waits for nobody, for an auction that ended
// without a win, or beyond a full batch. The delays are far longer than
// any test takes, so a wait that should not happen shows as the 30 s
// context running out, not as a timing.
func TestCommitDelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	saveAll := func(b *Batcher, ids []string, arrived []func()) []error {
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = b.save(ctx, oneWin(id), arrived[i])
			}()
		}
		wg.Wait()
		return errs
	}
	t.Run("running auctions share one commit", func(t *testing.T) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64, CommitDelay: 10 * time.Second})
		defer b.Close()
		ids := []string{"s0", "s1", "s2", "s3"}
		arrived := make([]func(), len(ids))
		for i := range ids {
			arrived[i] = b.expect()
		}
		// The first arrives alone; the others come once it is queued.
		first := make(chan error, 1)
		go func() { first <- b.save(ctx, oneWin(ids[0]), arrived[0]) }()
		for b.expecting.Load() == int64(len(ids)) {
			time.Sleep(time.Millisecond)
		}
		for _, err := range append(saveAll(b, ids[1:], arrived[1:]), <-first) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := commits(t, st, ids); n != 1 {
			t.Errorf("4 running auctions' wins in %d commits, want 1", n)
		}
	})
	t.Run("with no delay each lone auction commits at once", func(t *testing.T) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64})
		defer b.Close()
		arrivedLater := b.expect() // a running auction is no reason to wait without a delay
		defer arrivedLater()
		ids := []string{"n0", "n1"}
		for _, id := range ids {
			if err := b.save(ctx, oneWin(id), b.expect()); err != nil {
				t.Fatal(err)
			}
		}
		if n := commits(t, st, ids); n != 2 {
			t.Errorf("2 auctions one after the other in %d commits, want 2", n)
		}
	})
	t.Run("an auction alone never waits", func(t *testing.T) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64, CommitDelay: time.Hour})
		defer b.Close()
		arrived := b.expect()
		if err := b.save(ctx, oneWin("alone"), arrived); err != nil {
			t.Fatal(err)
		}
		arrived() // a second call changes nothing
		if b.expecting.Load() != 0 {
			t.Fatalf("expecting %d after the only auction arrived", b.expecting.Load())
		}
	})
	t.Run("an auction that ends without a win ends the wait", func(t *testing.T) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64, CommitDelay: time.Hour})
		defer b.Close()
		saver, loser := b.expect(), b.expect()
		saved := make(chan error, 1)
		go func() { saved <- b.save(ctx, oneWin("w"), saver) }()
		for b.expecting.Load() == 2 { // until its win is queued
			time.Sleep(time.Millisecond)
		}
		loser() // no win: nobody is left to wait for
		if err := <-saved; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a full batch commits without waiting", func(t *testing.T) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 3, CommitDelay: time.Hour})
		defer b.Close()
		stillRunning := b.expect()
		defer stillRunning()
		ids := make([]string, 3)
		arrived := make([]func(), len(ids))
		for i := range ids {
			ids[i], arrived[i] = "f"+strconv.Itoa(i), b.expect()
		}
		for _, err := range saveAll(b, ids, arrived) {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("the wait leaves the wins most of their time", func(t *testing.T) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64, CommitDelay: time.Hour})
		defer b.Close()
		stillRunning := b.expect()
		defer stillRunning()
		// A delay of an hour and 4 s to store: the commit waits 1 s at most.
		short, cancel := context.WithTimeout(ctx, 4*time.Second)
		defer cancel()
		if err := b.save(short, oneWin("deadline"), b.expect()); err != nil {
			t.Fatalf("a win waited for company past its own deadline: %v", err)
		}
	})
}

// TestAuctionsArriveOnEveryPath: every auction the Auctioneer runs, won,
// lost or without slots, concurrent or alone, stops counting as running
// when it ends, so that no commit waits for an auction that is gone.
func TestAuctionsArriveOnEveryPath(t *testing.T) {
	bids := sim(t, dspsim.Options{Price: "1.00"})
	none := sim(t, dspsim.Options{Mode: dspsim.ModeNoBid204})
	for _, c := range []struct {
		name string
		dsp  string
		want AuctionOutcome
	}{{"won", bids.Endpoint(), AuctionWon}, {"no bid", none.Endpoint(), AuctionNoBid}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := auctionConfig(testDSP("d", c.dsp))
			cfg.Database.WinCommitDelay = time.Hour // a count left behind would hold every later commit
			e := newEnv(t, cfg)
			b := e.a.saver.(*Batcher)
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if res := e.run(e.request(creativePNG)); res.Outcome != c.want {
						t.Errorf("outcome %s, want %s", res.Outcome, c.want)
					}
				}()
			}
			wg.Wait()
			if res := e.run(&Request{}); res.Outcome != AuctionNoBid {
				t.Errorf("no slots: outcome %s", res.Outcome)
			}
			if n := b.expecting.Load(); n != 0 {
				t.Errorf("%d auctions still counted as running after they ended", n)
			}
		})
	}
}
