package auction

import (
	"context"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/store"
)

func TestBudget(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		timeout, allowance, left time.Duration
		limit, tmax              time.Duration
		ok                       bool
	}{
		{800 * ms, 20 * ms, 900 * ms, 800 * ms, 780 * ms, true}, // its own timeout
		{800 * ms, 20 * ms, 300 * ms, 300 * ms, 280 * ms, true}, // what is left of the auction
		{800 * ms, 20 * ms, 30 * ms, 30 * ms, 10 * ms, true},    // just enough
		{800 * ms, 20 * ms, 29 * ms, 29 * ms, 9 * ms, false},    // too little: not called
		{800 * ms, 20 * ms, 0, 0, -20 * ms, false},              // nothing left: never tmax 0
		{800 * ms, 20 * ms, -5 * ms, -5 * ms, -25 * ms, false},
		{50 * ms, 0, 900 * ms, 50 * ms, 50 * ms, true},
	} {
		d := &dspClient{cfg: config.DSP{Timeout: c.timeout, TMaxAllowance: c.allowance}}
		limit, tmax, ok := d.budget(c.left)
		if limit != c.limit || tmax != c.tmax || ok != c.ok {
			t.Errorf("budget(timeout %s, allowance %s, left %s) = %s, %s, %v; want %s, %s, %v",
				c.timeout, c.allowance, c.left, limit, tmax, ok, c.limit, c.tmax, c.ok)
		}
		if ok && tmax < config.MinDSPTMax {
			t.Errorf("a DSP called with tmax %s", tmax)
		}
	}
}

// A DSP that would be told less than config.MinDSPTMax is not called at
// all; the others are, with tmax = their time less their allowance.
func TestDSPWithTooLittleTimeIsSkipped(t *testing.T) {
	short := sim(t, dspsim.Options{})
	roomy := sim(t, dspsim.Options{Price: "1.00"})
	far := testDSP("far", short.Endpoint())
	near := testDSP("near", roomy.Endpoint())
	// 40 ms auction: 4 ms reserve, so at most 36 ms left. far keeps 30 ms
	// back for its round trip, leaving it under 10 ms: never worth a call.
	far.TMaxAllowance = 30 * time.Millisecond
	near.TMaxAllowance = time.Millisecond
	near.Timeout, far.Timeout = 40*time.Millisecond, 40*time.Millisecond
	cfg := auctionConfig(far, near)
	cfg.Auction.TMax = 40 * time.Millisecond
	e := newEnvWithSaver(t, cfg, nopSaver{})
	res := e.run(e.request(creativePNG))
	var got DSPResult
	for _, d := range res.DSPs {
		if d.DSP == "far" {
			got = d
		}
	}
	if got.Outcome != OutcomeSkippedDeadline || got.Reason != ReasonSkippedDeadline || got.Reason.String() != "skipped_deadline" {
		t.Fatalf("far DSP result %+v, want skipped_deadline", got)
	}
	if n := short.RequestCount(); n != 0 {
		t.Fatalf("the skipped DSP got %d requests", n)
	}
	if e.obs.dsps[0].Outcome != OutcomeSkippedDeadline {
		t.Fatalf("observed %+v, want skipped_deadline first", e.obs.dsps)
	}
	// near may or may not have been in time on a loaded machine; if it was
	// called, it was told less than what it had, and never 0.
	if reqs := roomy.Requests(); len(reqs) == 1 {
		if tm := reqs[0].Request.TMax; tm < 10 || tm > 35 {
			t.Fatalf("near DSP told tmax %d ms, want 10..35", tm)
		}
	}
}

// deadlineSaver records the deadline its Save was given and stores nothing.
type deadlineSaver struct{ got chan time.Time }

func (s deadlineSaver) Save(ctx context.Context, rows []store.Auction) error {
	d, _ := ctx.Deadline()
	s.got <- d
	return nil
}

// The wins are stored by a fifth of the reserve before tmax, not by tmax
// itself: what follows a save cut off at its deadline (the no-bid answer
// when the database is gone) must still be written by tmax.
func TestWinsAreStoredBeforeTmaxLeavingTimeToAnswer(t *testing.T) {
	s := sim(t, dspsim.Options{Price: "1.00"})
	cfg := auctionConfig(testDSP("a", s.Endpoint()))
	saver := deadlineSaver{got: make(chan time.Time, 1)}
	e := newEnvWithSaver(t, cfg, saver)
	margin := e.a.set.Load().reserve / 5
	before := time.Now()
	res := e.run(e.request(creativePNG))
	after := time.Now()
	if res.Outcome != AuctionWon {
		t.Fatalf("outcome %s, want a win", res.Outcome)
	}
	d := <-saver.got
	tmax := cfg.Auction.TMax
	if lo, hi := before.Add(tmax-margin), after.Add(tmax-margin); d.Before(lo) || d.After(hi) {
		t.Fatalf("save deadline %s after the call began, want tmax %s less %s", d.Sub(before), tmax, margin)
	}
}
