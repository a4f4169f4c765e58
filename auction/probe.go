package auction

import (
	"context"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/config"
)

// Probe sends one OpenRTB test request (test=1) for req to every
// configured DSP at once, through each DSP's own client (endpoint,
// headers, gzip, dialect, currency, floor) but outside its breaker and call
// limit and outside any auction: nothing is stored, bids are only counted.
// Each call may take up to wait, so a DSP slower than its timeout still
// shows how slow it is; the request's tmax is what an auction would give
// it. Results are in config order.
func (a *Auctioneer) Probe(ctx context.Context, req *Request, wait time.Duration) []DSPResult {
	set := a.set.Load()
	base := buildRequest(newAuctionID(), req)
	base.Test = 1
	out := make([]DSPResult, len(set.dsps))
	var wg sync.WaitGroup
	for i, d := range set.dsps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeoutCause(ctx, wait, errDSPTimeout)
			defer cancel()
			_, tmax, _ := d.budget(set.tmax - set.reserve)
			ans := d.call(cctx, d.request(base, max(tmax, config.MinDSPTMax), set.floorMicros))
			if ans.response != nil {
				for _, sb := range ans.response.SeatBid {
					ans.result.Bids += len(sb.Bid)
				}
				ans.result.Outcome, ans.result.Reason = OutcomeNoBid, ReasonNoBid
				if ans.result.Bids > 0 {
					ans.result.Outcome, ans.result.Reason = OutcomeBid, 0
				}
			}
			out[i] = ans.result
		}()
	}
	wg.Wait()
	return out
}

// Budget is what the auction gives DSPs at most: auction.tmax minus the
// time kept back for storing wins and answering.
func (a *Auctioneer) Budget() time.Duration {
	set := a.set.Load()
	return set.tmax - set.reserve
}

// DSPTimeouts maps every configured DSP to its endpoint and timeout, in
// config order.
func (a *Auctioneer) DSPTimeouts() []DSPTimeout {
	set := a.set.Load()
	out := make([]DSPTimeout, 0, len(set.dsps))
	for _, d := range set.dsps {
		out = append(out, DSPTimeout{Name: d.cfg.Name, Endpoint: d.cfg.Endpoint, Timeout: d.cfg.Timeout})
	}
	return out
}

// DSPTimeout is a DSP's endpoint and time limit.
type DSPTimeout struct {
	Name, Endpoint string
	Timeout        time.Duration
}
