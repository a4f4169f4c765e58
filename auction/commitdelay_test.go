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
// of one transaction share its xmin); it fails the test unless every one
// is stored.
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

// commitsSeen records the auctions of every commit a Batcher reports.
type commitsSeen struct {
	NopObserver
	mu sync.Mutex
	n  []int
}

func (c *commitsSeen) ObserveWinCommit(auctions int) {
	c.mu.Lock()
	c.n = append(c.n, auctions)
	c.mu.Unlock()
}

func (c *commitsSeen) all() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.n...)
}

// answered is what c gives, failing the test if nothing comes in 30 s: a
// save held for company it should not wait for.
func answered(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting after 30 s: a commit waited for company it should not wait for")
		return nil
	}
}

func oneWin(id string) []store.Auction {
	return []store.Auction{{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: creativePNG, DSP: "d", PriceMicros: 1000, BidCurrency: "USD"}}
}

// TestCommitDelay: a commit waits for the auctions still running and
// shares their wins; it never waits for nobody, for an auction that ended
// without a win, or beyond a full batch. The delays are an hour and the
// saves have no deadline, so a wait that should not happen is caught by
// the 30 s watchdog (answered), not by a timing.
func TestCommitDelay(t *testing.T) {
	ctx := context.Background()
	batcher := func(t *testing.T, maxBatch int, delay time.Duration) (*store.Store, *Batcher) {
		st := testdb.New(t)
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: maxBatch, CommitDelay: delay})
		t.Cleanup(b.Close)
		return st, b
	}
	// saveAll saves one win per id at once and fails on any error (more
	// are the errors of earlier saves, from channels, to check too).
	saveAll := func(t *testing.T, b *Batcher, ids []string, arrived []func(), more ...chan error) {
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = b.save(ctx, oneWin(id), arrived[i])
			}()
		}
		all := make(chan error, 1)
		go func() { wg.Wait(); all <- nil }()
		answered(t, all)
		for _, c := range more {
			errs = append(errs, answered(t, c))
		}
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("running auctions share one commit", func(t *testing.T) {
		st := testdb.New(t)
		seen := &commitsSeen{}
		b := NewBatcher(st, discard, BatcherOptions{Writers: 1, MaxBatch: 64, CommitDelay: 10 * time.Second, Observer: seen})
		t.Cleanup(b.Close)
		ids := []string{"s0", "s1", "s2", "s3"}
		arrived := make([]func(), len(ids))
		for i := range ids {
			arrived[i] = b.expect()
		}
		// The first arrives alone; the others come once it is queued.
		// (10 s, not an hour: the commit would still be one if the wait
		// ran out, so this checks the sharing, not the end of the wait.)
		first := make(chan error, 1)
		go func() { first <- b.save(ctx, oneWin(ids[0]), arrived[0]) }()
		for b.expecting.Load() == int64(len(ids)) {
			time.Sleep(time.Millisecond)
		}
		saveAll(t, b, ids[1:], arrived[1:], first)
		if n := commits(t, st, ids); n != 1 {
			t.Errorf("4 running auctions' wins in %d commits, want 1", n)
		}
		if got := seen.all(); len(got) != 1 || got[0] != 4 {
			t.Errorf("commits observed %v, want [4]", got)
		}
	})
	t.Run("with no delay each lone auction commits at once", func(t *testing.T) {
		st, b := batcher(t, 64, 0)
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
		st, b := batcher(t, 64, time.Hour)
		arrived := b.expect()
		saveAll(t, b, []string{"alone"}, []func(){arrived})
		arrived() // a second call changes nothing
		if b.expecting.Load() != 0 {
			t.Fatalf("expecting %d after the only auction arrived", b.expecting.Load())
		}
		commits(t, st, []string{"alone"})
	})
	t.Run("an auction that ends without a win ends the wait", func(t *testing.T) {
		st, b := batcher(t, 64, time.Hour)
		saver, loser := b.expect(), b.expect()
		saved := make(chan error, 1)
		go func() { saved <- b.save(ctx, oneWin("w"), saver) }()
		for b.expecting.Load() == 2 { // until its win is queued
			time.Sleep(time.Millisecond)
		}
		loser() // no win: nobody is left to wait for
		if err := answered(t, saved); err != nil {
			t.Fatal(err)
		}
		commits(t, st, []string{"w"})
	})
	t.Run("a full batch commits without waiting", func(t *testing.T) {
		st, b := batcher(t, 3, time.Hour)
		stillRunning := b.expect()
		defer stillRunning()
		ids := make([]string, 3)
		arrived := make([]func(), len(ids))
		for i := range ids {
			ids[i], arrived[i] = "f"+strconv.Itoa(i), b.expect()
		}
		saveAll(t, b, ids, arrived)
		if n := commits(t, st, ids); n != 1 {
			t.Errorf("a full batch of 3 in %d commits, want 1", n)
		}
	})
	t.Run("the wait leaves the wins most of their time", func(t *testing.T) {
		st, b := batcher(t, 64, time.Hour)
		stillRunning := b.expect()
		defer stillRunning()
		// A delay of an hour and 4 s to store: the commit waits 1 s at most.
		short, cancel := context.WithTimeout(ctx, 4*time.Second)
		defer cancel()
		if err := b.save(short, oneWin("deadline"), b.expect()); err != nil {
			t.Fatalf("a win waited for company past its own deadline: %v", err)
		}
		commits(t, st, []string{"deadline"})
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
