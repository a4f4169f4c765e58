package auction

import (
	"context"
	"errors"
	"strings"
)

// judging is what every answer of one auction is judged against. It is
// read-only, shared by the DSPs' goroutines.
type judging struct {
	auctionID   string
	imps        map[string]bool
	secure      bool
	floorMicros int64
}

func newJudging(auctionID string, req *Request, floorMicros int64) *judging {
	j := &judging{auctionID: auctionID, imps: make(map[string]bool, len(req.Slots)), secure: req.securePage(), floorMicros: floorMicros}
	for _, s := range req.Slots {
		j.imps[s.ID] = true
	}
	return j
}

// rejectionSamples is how many rejected bids one aggregated log line shows.
const rejectionSamples = 2

// judge validates one answer in its DSP's own goroutine, so that a slow
// decode or a long answer of one DSP never holds up the auction: it sets
// the answer's outcome, candidates and rejections, counts the rejections
// and logs them aggregated, one line per reason.
func (a *Auctioneer) judge(ctx context.Context, j *judging, ans *answer) {
	if ans.err != nil { // the target of errors.As lives on the heap: only for an error
		var many *TooManyBidsError
		if errors.As(ans.err, &many) {
			// Refused whole, before any bid was decoded: one line, not one per bid.
			a.log.InfoContext(ctx, "dsp answer refused", "auction_id", j.auctionID, "dsp", ans.result.DSP,
				"reason", ReasonInvalidResponse.String(), "code", int(ReasonInvalidResponse), "max_bids", many.Max)
			return
		}
	}
	if ans.response == nil {
		return
	}
	for _, sb := range ans.response.SeatBid {
		ans.result.Bids += len(sb.Bid)
	}
	if ans.result.Bids == 0 {
		ans.result.Outcome, ans.result.Reason = OutcomeNoBid, ReasonNoBid
		return
	}
	ans.cands, ans.rejections = validate(ans, j.imps, j.secure, j.floorMicros)
	for _, r := range ans.rejections {
		a.observer.ObserveRejection(r)
	}
	a.logRejections(ctx, j.auctionID, ans.result.DSP, ans.rejections)
	if len(ans.cands) > 0 {
		ans.result.Outcome = OutcomeBid
	} else {
		ans.result.Outcome, ans.result.Reason = OutcomeRejected, ReasonRejected
	}
}

// logRejections writes one line per reason ("bids rejected", with the
// count and the first few bids), in the order the reasons first appear.
func (a *Auctioneer) logRejections(ctx context.Context, auctionID, dsp string, rejs []Rejection) {
	if len(rejs) == 0 {
		return
	}
	type group struct {
		count   int
		samples []map[string]string
	}
	var order []Reason
	groups := map[Reason]*group{}
	for _, r := range rejs {
		g := groups[r.Reason]
		if g == nil {
			g = &group{}
			groups[r.Reason] = g
			order = append(order, r.Reason)
		}
		g.count++
		if len(g.samples) < rejectionSamples {
			g.samples = append(g.samples, map[string]string{"bid_id": clip(r.BidID), "imp_id": clip(r.ImpID), "seat": clip(r.Seat), "detail": clip(r.Detail)})
		}
	}
	for _, reason := range order {
		g := groups[reason]
		a.log.InfoContext(ctx, "bids rejected", "auction_id", auctionID, "dsp", dsp,
			"reason", reason.String(), "code", int(reason), "count", g.count, "samples", g.samples)
	}
}

// clip shortens what a DSP sent to a length fit for a log line: a bid id
// or a price text may be megabytes long.
func clip(s string) string {
	const limit = 160
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}
