package auction

import (
	"context"
	"errors"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// dspCall is one DSP the auction calls: its permit, its call's context and
// the request it is offered.
type dspCall struct {
	d      *dspClient
	p      permit
	ctx    context.Context
	cancel context.CancelFunc
	req    *openrtb2.BidRequest
	start  time.Time
}

// do calls the DSP and judges its answer. The breaker learns from every
// call, also one the auction stopped waiting for: a DSP that misses
// deadlines is failing. A call our caller cut off says nothing (verdict).
func (a *Auctioneer) do(ctx context.Context, j *judging, c *dspCall) answer {
	defer c.cancel()
	ans := c.d.call(c.ctx, c.req)
	c.p.done(ans.result.Outcome)
	a.judge(ctx, j, &ans)
	a.logPayloads(j.auctionID, &ans)
	return ans
}

// callInline is the usual auction of one DSP: called on the auction's own
// goroutine, which saves a goroutine, its stack growing while it parses the
// answer, and a channel (BenchmarkAuctionOneSlot: 197 -> 194 allocs/op).
// The deadline holds without a collector: the call ends with its context
// (the connection's deadline is the context's), and an answer judged after
// dspCtx ended is late, as the collector of callAll would have found it.
// A breaker's probe is not called here: it outlives the caller (callContext),
// and the auction must not wait for it.
func (a *Auctioneer) callInline(ctx, dspCtx context.Context, j *judging, res *AuctionResult, c *dspCall) []candidate {
	c.start = time.Now()
	ans := a.do(ctx, j, c)
	if dspCtx.Err() != nil && ans.result.Outcome != OutcomeTimeout && ans.result.Outcome != OutcomeCancelled {
		a.recordLate(dspCtx, res, c)
		return nil
	}
	res.Rejections = append(res.Rejections, ans.rejections...)
	res.DSPs = append(res.DSPs, ans.result)
	a.observer.ObserveDSP(ans.result)
	return ans.cands
}

// callAll calls every DSP on its own goroutine, so that one DSP's answer
// (or its decode) never delays another's, and collects the answers until
// all are in or dspCtx ends; the DSPs still pending then are late.
func (a *Auctioneer) callAll(ctx, dspCtx context.Context, j *judging, res *AuctionResult, dsps []*dspClient, calls []dspCall) []candidate {
	answers := make(chan answer, len(calls))
	pending := make(map[*dspClient]*dspCall, len(calls))
	for i := range calls {
		c := &calls[i]
		c.start = time.Now()
		pending[c.d] = c
		go func() { answers <- a.do(ctx, j, c) }()
	}
	var cands []candidate
collect:
	for len(pending) > 0 {
		select {
		case ans := <-answers:
			delete(pending, ans.dsp)
			if cands == nil && len(ans.cands) > 0 {
				// Room for the DSPs still to answer bidding as many: one
				// allocation in the usual auction instead of one per answer.
				cands = make([]candidate, 0, len(ans.cands)*(len(pending)+1))
			}
			cands = append(cands, ans.cands...)
			res.Rejections = append(res.Rejections, ans.rejections...)
			res.DSPs = append(res.DSPs, ans.result)
			a.observer.ObserveDSP(ans.result)
		case <-dspCtx.Done():
			break collect
		}
	}
	for _, d := range dsps { // config order, for stable results
		if c, ok := pending[d]; ok {
			a.recordLate(dspCtx, res, c)
		}
	}
	return cands
}

// recordLate records c as not answered by the end of dspCtx: a timeout, or
// cancelled when our caller (not the deadline) ended the auction.
func (a *Auctioneer) recordLate(dspCtx context.Context, res *AuctionResult, c *dspCall) {
	r := DSPResult{Outcome: OutcomeTimeout, Reason: ReasonTimeout, Err: errAuctionDeadline.Error()}
	if cause := context.Cause(dspCtx); cause != nil && !errors.Is(cause, errAuctionDeadline) {
		r = DSPResult{Outcome: OutcomeCancelled, Reason: ReasonCancelled, Err: "caller gone: " + cause.Error()}
	}
	r.DSP, r.Latency = c.d.cfg.Name, time.Since(c.start)
	res.DSPs = append(res.DSPs, r)
	a.observer.ObserveDSP(r)
}
