package auction

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/adshares/dsp-bridge/creative"
)

// Reasons a bid loses at creative resolution (after it was judged valid):
// seat-non-bid code 350 (invalid creative) from the community list, and the
// bridge's own 5xx for the rest (351, size not allowed, is the bid's own
// w/h, ReasonSize).
const (
	ReasonUnrenderable        Reason = 350 // adm is neither plain image markup nor VAST with a progressive file
	ReasonCreativeMismatch    Reason = 563 // the creative's type or size is not the slot's
	ReasonRefusedURL          Reason = 510 // a notice URL of the markup bid is refused by the outbound policy
	ReasonCreativeTimeout     Reason = 560 // the creative was not fetched in the time left
	ReasonCreativeTooLarge    Reason = 561 // more bytes than allowed (creatives.inline_max_bytes for inline)
	ReasonCreativeFetchFailed Reason = 562 // the creative could not be fetched
)

// The labels are the creative package's (they name the same facts in its
// errors, the metrics and `payments dsps`); kept here, beside the stage that
// gives them, rather than in the list of the fan-out's reasons.
func init() {
	name := func(r Reason, label string) {
		if old, taken := reasonNames[r]; taken {
			// Two reasons with one code would be counted and logged as one.
			panic("auction: reason code " + strconv.Itoa(int(r)) + " is both " + old + " and " + label)
		}
		reasonNames[r] = label
	}
	for r, c := range creativeReasons {
		name(r, string(c))
	}
	name(ReasonRefusedURL, "refused_url")
}

var creativeReasons = map[Reason]creative.Reason{
	ReasonUnrenderable: creative.ReasonUnrenderable, ReasonCreativeMismatch: creative.ReasonMismatch,
	ReasonCreativeTimeout: creative.ReasonTimeout, ReasonCreativeTooLarge: creative.ReasonTooLarge,
	ReasonCreativeFetchFailed: creative.ReasonFetchFailed,
}

// CreativeReasons are the reasons of bids refused for their creative (for
// metrics and operator tables that list them).
var CreativeReasons = []Reason{ReasonUnrenderable, ReasonCreativeMismatch, ReasonCreativeTimeout,
	ReasonCreativeTooLarge, ReasonCreativeFetchFailed, ReasonRefusedURL}

func reasonOfCreative(r creative.Reason) Reason {
	for k, v := range creativeReasons {
		if v == r {
			return k
		}
	}
	return ReasonCreativeFetchFailed
}

// Refusal is a valid bid that lost for its creative.
type Refusal struct {
	Rejection
	wrongSize bool // a mismatch of the size alone (loss reason 203)
}

// reportRefusals records the creative refusals of an auction: each counted
// by reason (metrics, `payments dsps`), one log line for all of them.
func (a *Auctioneer) reportRefusals(ctx context.Context, auctionID string, res *AuctionResult, outs []slotOutcome) {
	var list []Refusal
	for _, o := range outs {
		for _, c := range o.order {
			if r, ok := o.refused[c]; ok {
				list = append(list, r)
			}
		}
	}
	if len(list) == 0 {
		return
	}
	byReason := map[string]int{}
	var first []any
	for _, r := range list {
		res.Rejections = append(res.Rejections, r.Rejection)
		a.observer.ObserveRejection(r.Rejection)
		if byReason[r.Reason.String()] == 0 {
			first = append(first, slog.Group(r.Reason.String(), "dsp", r.DSP, "bid_id", r.BidID, "detail", r.Detail))
		}
		byReason[r.Reason.String()]++
	}
	a.log.InfoContext(ctx, "creatives refused", "auction_id", auctionID, "count", len(list), "by_reason", byReason,
		slog.Group("first", first...))
}
