package auction

import (
	"context"
	"testing"

	"github.com/adshares/dsp-bridge/dspsim"
)

// One DSP is called on the auction's goroutine, with no collector racing
// the deadline: an answer that is only judged once dspCtx has ended must
// still be late (a timeout without candidates), as callAll would find it.
func TestInlineAnswerAfterTheDeadlineIsLate(t *testing.T) {
	s := sim(t, dspsim.Options{Price: "1.00"})
	e := newEnv(t, auctionConfig(testDSP("a", s.Endpoint())))
	set := e.a.set.Load()
	d := set.dsps[0]
	req := e.request(creativePNG)
	j := newJudging("auction-1", req, set.floorMicros)
	base := buildRequest("auction-1", req, &set.supply)

	call := func(dspCtx context.Context) (*AuctionResult, []candidate) {
		p, _, ok := d.acquire()
		if !ok {
			t.Fatal("no permit")
		}
		// The call itself has all the time it needs: only dspCtx decides.
		c := dspCall{d: d, p: p, ctx: context.Background(), cancel: func() {}, req: d.request(base, set.tmax, set.floorMicros)}
		res := &AuctionResult{}
		return res, e.a.callInline(context.Background(), dspCtx, j, res, &c)
	}

	res, cands := call(context.Background())
	if len(cands) != 1 || len(res.DSPs) != 1 || res.DSPs[0].Outcome != OutcomeBid {
		t.Fatalf("in time: %d candidates, %+v; want one bid", len(cands), res.DSPs)
	}

	ended, cancel := context.WithCancelCause(context.Background())
	cancel(errAuctionDeadline)
	res, cands = call(ended)
	if len(cands) != 0 || len(res.DSPs) != 1 || res.DSPs[0].Outcome != OutcomeTimeout || res.DSPs[0].Reason != ReasonTimeout {
		t.Fatalf("after the deadline: %d candidates, %+v; want a timeout and none", len(cands), res.DSPs)
	}

	gone, cancel := context.WithCancelCause(context.Background())
	cancel(context.Canceled)
	res, _ = call(gone)
	if len(res.DSPs) != 1 || res.DSPs[0].Outcome != OutcomeCancelled {
		t.Fatalf("after the caller left: %+v; want cancelled", res.DSPs)
	}
	if s.RequestCount() != 3 {
		t.Fatalf("%d calls, want 3", s.RequestCount())
	}
}
