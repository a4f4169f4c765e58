package auction

import (
	"strconv"
	"time"
)

// Reason is why a DSP did not bid or a bid was not accepted, numbered like
// OpenRTB's seat-non-bid status codes (0 no bid, 1xx errors, 3xx rejected
// responses); 5xx are the bridge's own.
type Reason int

// Non-bid reasons.
const (
	ReasonNoBid           Reason = 0   // the DSP declined (204, empty, {}, empty seatbid, nbr)
	ReasonError           Reason = 100 // non-2xx status or another failure
	ReasonTimeout         Reason = 101 // no complete answer within its time
	ReasonInvalidResponse Reason = 102 // malformed or oversized answer
	ReasonUnreachable     Reason = 103 // could not connect
	ReasonRejected        Reason = 300 // bid rejected, general
	ReasonBelowFloor      Reason = 301 // price below auction.bidfloor
	ReasonSize            Reason = 351 // bid w/h other than the slot's size
	ReasonBlockedAdv      Reason = 356 // adomain on the DSP's badv list
	ReasonBlockedCategory Reason = 357 // cat on the DSP's bcat list
	ReasonUnknownImp      Reason = 501 // impid names no imp of the request
	ReasonBadPrice        Reason = 502 // price missing, not a number, <= 0 or absurd
	ReasonCurrency        Reason = 503 // currency other than the request's
	ReasonGroup           Reason = 504 // seatbid with group=1 (all-or-nothing)
	ReasonNoNURL          Reason = 505 // missing or non-http(s) nurl: no serve_url
	ReasonSeat            Reason = 506 // seat other than the configured one
	ReasonBlockedAttr     Reason = 507 // attr on the DSP's battr list
	ReasonResponseID      Reason = 508 // BidResponse.id is not the request's id
	ReasonMissingField    Reason = 509 // a field of dsps[].require is empty
	ReasonBreakerOpen     Reason = 550 // not called: its circuit breaker is open
	ReasonOverloaded      Reason = 551 // not called: too many calls in flight
	ReasonSkippedQPS      Reason = 552 // not called: over its dsps[].qps
	ReasonSkippedFilter   Reason = 553 // not called: dsps[].only excludes the request
	ReasonSkippedDeadline Reason = 554 // not called: less than config.MinDSPTMax left
	ReasonCancelled       Reason = 555 // cut off: our caller hung up or the bridge stopped
)

var reasonNames = map[Reason]string{
	ReasonNoBid: "no_bid", ReasonError: "error", ReasonTimeout: "timeout",
	ReasonInvalidResponse: "invalid_response", ReasonUnreachable: "unreachable",
	ReasonRejected: "rejected", ReasonBelowFloor: "below_floor", ReasonUnknownImp: "unknown_impid",
	ReasonBadPrice: "bad_price", ReasonCurrency: "currency", ReasonGroup: "group",
	ReasonNoNURL: "missing_nurl", ReasonSeat: "seat", ReasonBreakerOpen: "breaker_open",
	ReasonOverloaded: "overloaded", ReasonSize: "size_not_allowed", ReasonBlockedAdv: "blocked_advertiser",
	ReasonBlockedCategory: "blocked_category", ReasonBlockedAttr: "blocked_attribute",
	ReasonResponseID: "wrong_response_id", ReasonMissingField: "missing_field",
	ReasonSkippedQPS: "skipped_qps", ReasonSkippedFilter: "skipped_filter",
	ReasonSkippedDeadline: "skipped_deadline", ReasonCancelled: "cancelled",
}

// String is the reason's stable label (for logs and metrics).
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return "reason_" + strconv.Itoa(int(r))
}

// Outcome is what one DSP call came to.
type Outcome string

// DSP call outcomes.
const (
	OutcomeBid         Outcome = "bid"          // at least one valid bid
	OutcomeNoBid       Outcome = "nobid"        // declined
	OutcomeRejected    Outcome = "rejected"     // answered, but every bid was invalid
	OutcomeTimeout     Outcome = "timeout"      // no answer in time
	OutcomeError       Outcome = "error"        // transport error, bad status or malformed answer
	OutcomeBreakerOpen Outcome = "breaker_open" // not called
	OutcomeOverloaded  Outcome = "overloaded"   // not called
	// OutcomeSkippedQPS and OutcomeSkippedFilter: not called (admits).
	OutcomeSkippedQPS    Outcome = "skipped_qps"
	OutcomeSkippedFilter Outcome = "skipped_filter"
	// OutcomeSkippedDeadline: not called, too little of the auction was left.
	OutcomeSkippedDeadline Outcome = "skipped_deadline"
	// OutcomeCancelled: cut off because our caller hung up or the bridge
	// stopped; not the DSP's failure (its breaker does not count it).
	OutcomeCancelled Outcome = "cancelled"
)

// Called reports whether an outcome is of a DSP call that was made.
func (o Outcome) Called() bool {
	switch o {
	case OutcomeBreakerOpen, OutcomeOverloaded, OutcomeSkippedQPS, OutcomeSkippedFilter, OutcomeSkippedDeadline:
		return false
	}
	return true
}

// Rejection is one bid the auction did not accept, with its reason.
type Rejection struct {
	DSP, Seat, BidID, ImpID string
	Reason                  Reason
	Detail                  string
}

// DSPResult is one DSP's part in an auction.
type DSPResult struct {
	DSP     string
	Outcome Outcome
	Reason  Reason // for nobid/timeout/error/not called
	Latency time.Duration
	Status  int // HTTP status, 0 if none
	Bids    int // bids in the answer, valid or not
	NBR     int // the answer's nbr, if any
	Err     string
}

// Win is one slot's winner.
type Win struct {
	RequestID   string
	ExtID       string
	ServeURL    string
	DSP         string
	PriceMicros int64
	// Delivery is how the creative reaches the browser: nurl (ServeURL is
	// the DSP's nurl), inline (a data: URI), public or direct.
	Delivery string
}

// AuctionOutcome is how an auction ended.
type AuctionOutcome string

// Auction outcomes.
const (
	AuctionWon        AuctionOutcome = "won"         // at least one slot won and stored
	AuctionNoBid      AuctionOutcome = "nobid"       // no valid bid for any slot
	AuctionOverloaded AuctionOutcome = "overloaded"  // too many auctions in flight: answered [] at once
	AuctionStoreError AuctionOutcome = "store_error" // wins could not be stored: answered []
	// AuctionInvalidTraffic: a crawler or a low human score; no DSP asked.
	AuctionInvalidTraffic AuctionOutcome = "invalid_traffic"
	// AuctionCancelled: the caller hung up (or the bridge stopped) before
	// the answer; nothing was stored, since nobody could serve the wins.
	AuctionCancelled AuctionOutcome = "cancelled"
)

// AuctionResult is everything one auction did: the metrics helper counts
// it through an Observer, tests inspect it.
type AuctionResult struct {
	ID      string // BidRequest.id
	Outcome AuctionOutcome
	// InvalidTraffic is why the gate stopped it ("crawler", "human_score").
	InvalidTraffic string
	Slots          int
	Wins           []Win
	DSPs           []DSPResult
	Rejections     []Rejection
	Duration       time.Duration // from start to answer
	// Overhead is the bridge's own share: Duration minus the longest DSP wait.
	Overhead time.Duration

	answered func(written bool) // releases or cancels held win notices
}

// Answered tells the auction whether the /bid answer carrying its wins was
// written (true) or could not be (false): the win notices of markup wins
// are then released, or cancelled so the DSP does not hear of a win the
// AdServer never got. Call it once, after writing.
func (r *AuctionResult) Answered(written bool) {
	if r != nil && r.answered != nil {
		r.answered(written)
		r.answered = nil
	}
}

// Observer receives auction outcomes (for metrics). The auction calls it
// synchronously, so implementations must be fast and safe for concurrent use.
type Observer interface {
	// ObserveDSP is called once per DSP per auction, also for DSPs not called.
	ObserveDSP(r DSPResult)
	// ObserveRejection is called for every rejected bid.
	ObserveRejection(r Rejection)
	// ObserveAuction is called once per auction, after the answer is known.
	ObserveAuction(r *AuctionResult)
}

// NopObserver ignores everything.
type NopObserver struct{}

// ObserveDSP does nothing.
func (NopObserver) ObserveDSP(DSPResult) {}

// ObserveRejection does nothing.
func (NopObserver) ObserveRejection(Rejection) {}

// ObserveAuction does nothing.
func (NopObserver) ObserveAuction(*AuctionResult) {}
