package auction

import (
	"context"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testcfg"
)

// waitIdle waits until no call to any DSP is in flight any more, so that
// every call has reported to its breaker.
func (e *env) waitIdle() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := 0
		for _, s := range e.a.DSPStates() {
			busy += s.InFlight
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("calls still in flight: %+v", e.a.DSPStates())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runCancelled starts an auction and cancels its context once every DSP in
// sims got the request: the caller hanging up mid-auction.
func (e *env) runCancelled(req *Request, sims ...*dspsim.Server) *AuctionResult {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := make([]int, len(sims))
	for i, s := range sims {
		before[i] = s.RequestCount()
	}
	go func() {
		for i := 0; i < len(sims); {
			if sims[i].RequestCount() > before[i] {
				i++
				continue
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	return e.a.Run(ctx, req)
}

// When the caller of /bid hangs up (or the bridge shuts down) the calls
// still in flight are cut off, but they are not the DSPs' timeouts: the
// breaker counts nothing, the outcome is cancelled, nothing is stored.
func TestCallerHangingUpIsNotTheDSPsFailure(t *testing.T) {
	slow := sim(t, dspsim.Options{Mode: dspsim.ModeHang})
	d := testDSP("slow", slow.Endpoint())
	d.Breaker = testcfg.Breaker(1, time.Minute) // one failure would open it
	e := newEnv(t, auctionConfig(d))
	for range 3 {
		res := e.runCancelled(e.request(creativePNG), slow)
		if res.Outcome != AuctionCancelled || len(res.Wins) != 0 {
			t.Fatalf("outcome %s, wins %+v; want cancelled", res.Outcome, res.Wins)
		}
		if len(res.DSPs) != 1 || res.DSPs[0].Outcome != OutcomeCancelled || res.DSPs[0].Reason != ReasonCancelled {
			t.Fatalf("dsp results %+v, want cancelled", res.DSPs)
		}
	}
	e.waitIdle()
	c := e.a.set.Load().dsps[0].breaker.counts()
	if c.TotalFailures != 0 || c.TotalSuccesses != 0 || c.ConsecutiveFailures != 0 {
		t.Fatalf("breaker counts %+v: cancelled calls were counted", c)
	}
	for _, r := range e.obs.dsps {
		if r.Outcome != OutcomeCancelled {
			t.Fatalf("observed %+v, want only cancelled calls", r)
		}
	}
	// The breaker stayed closed: the next auction calls the DSP.
	slow.SetMode(dspsim.ModeBid)
	if res := e.run(e.request(creativePNG)); res.Outcome != AuctionWon || slow.RequestCount() != 4 {
		t.Fatalf("after the hang-ups: %s, %d calls; want a win on the 4th call", res.Outcome, slow.RequestCount())
	}
	// A real timeout still counts: the auction's own deadline.
	slow.SetMode(dspsim.ModeHang)
	e.cfg.Auction.TMax = 100 * time.Millisecond
	if _, err := e.a.Reload(e.cfg); err != nil { // the DSP keeps its client and breaker
		t.Fatal(err)
	}
	if res := e.run(e.request(creativePNG)); res.DSPs[0].Outcome != OutcomeTimeout {
		t.Fatalf("hang under the auction's deadline: %+v, want a timeout", res.DSPs)
	}
	e.waitIdle()
	if st := e.a.DSPStates()[0]; st.Breaker != "open" {
		t.Fatalf("breaker %s after a real timeout, want open", st.Breaker)
	}
}

// A half-open breaker's probe is not cut off by the caller hanging up: it
// runs to its verdict, so the breaker closes (or reopens) instead of
// staying half-open for good with its probe never reported.
func TestProbeOutlivesTheCaller(t *testing.T) {
	s := sim(t, dspsim.Options{Mode: dspsim.Mode5xx})
	d := testDSP("flaky", s.Endpoint())
	d.Breaker = testcfg.Breaker(1, 50*time.Millisecond)
	e := newEnv(t, auctionConfig(d))
	e.run(e.request(creativePNG)) // one 500: open
	e.waitIdle()
	for deadline := time.Now().Add(10 * time.Second); e.a.DSPStates()[0].Breaker != "half-open"; {
		if time.Now().After(deadline) {
			t.Fatalf("breaker %s, want half-open after open_for", e.a.DSPStates()[0].Breaker)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		time.Sleep(50 * time.Millisecond) // answers after the caller is gone
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"bid":[{"id":"b","impid":"0","price":1,"nurl":"http://127.0.0.1:1/w"}]}]}`)
	})
	res := e.runCancelled(e.request(creativePNG), s)
	if res.Outcome != AuctionCancelled {
		t.Fatalf("outcome %s, want cancelled", res.Outcome)
	}
	e.waitIdle()
	if st := e.a.DSPStates()[0]; st.Breaker != "closed" {
		t.Fatalf("breaker %s after a probe that answered, want closed", st.Breaker)
	}
	if res := e.run(e.request(creativePNG)); res.Outcome != AuctionWon {
		t.Fatalf("after the probe: %s %+v, want a win", res.Outcome, res.DSPs)
	}
}
