// Package auction is the OpenRTB side of the bridge: it offers the slots of
// one Request to every configured DSP at once (each behind its own pool,
// breaker and call limit), validates their answers, picks the highest valid
// bid per slot within one hard deadline and stores the wins before
// returning them. It knows nothing of the AdServer's wire format.
package auction

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/store"
)

// Auctioneer runs auctions: it offers the slots to every DSP at once and
// picks, per slot, the highest valid bid, within one hard deadline.
type Auctioneer struct {
	// set is the DSPs and timings every new auction uses; Reload swaps it.
	set      atomic.Pointer[dspSet]
	reloadMu sync.Mutex    // one Reload at a time
	running  chan struct{} // auctions in flight (auction.max_concurrent)
	saver    Saver
	batcher  *Batcher // saver, when it is one: told which auctions run (commitdelay.go)
	observer Observer
	log      *slog.Logger
	payloads bool           // log.payloads: DSP requests and answers at debug level
	cr       *creativeStage // creatives from markup (creatives.go)

	// newAuctionID and newExtID make ids; tests replace them.
	newAuctionID func() string
	newExtID     func() string
	// now is the clock of the qps buckets; tests replace it.
	now func() time.Time
}

// NewAuctioneer builds the DSP clients from config.
func NewAuctioneer(cfg *config.Config, saver Saver, observer Observer, log *slog.Logger) (*Auctioneer, error) {
	if observer == nil {
		observer = NopObserver{}
	}
	a := &Auctioneer{
		running: make(chan struct{}, cfg.Auction.MaxConcurrent),
		saver:   saver, observer: observer, log: log, payloads: cfg.Log.Payloads,
		newAuctionID: newAuctionID, newExtID: newExtID, now: time.Now,
	}
	set, _, err := a.buildSet(cfg, nil)
	if err != nil {
		return nil, err
	}
	a.set.Store(set)
	a.batcher, _ = saver.(*Batcher)
	a.cr = newCreativeStage(cfg, func() Observer { return a.observer }, log)
	return a, nil
}

// Close releases the DSP connection pools and stops the creative fetches.
func (a *Auctioneer) Close() {
	for _, d := range a.set.Load().dsps {
		d.close()
	}
	a.cr.close()
}

// Run auctions the slots. It returns by tmax (plus the scheduler's jitter)
// whatever the DSPs do; wins in the result are already stored.
func (a *Auctioneer) Run(ctx context.Context, req *Request) *AuctionResult {
	start := time.Now()
	res := &AuctionResult{Slots: len(req.Slots)}
	defer func() {
		res.Duration = time.Since(start)
		var longest time.Duration
		for _, d := range res.DSPs {
			longest = max(longest, d.Latency)
		}
		res.Overhead = max(res.Duration-longest, 0)
		a.observer.ObserveAuction(res)
	}()
	select {
	case a.running <- struct{}{}:
		defer func() { <-a.running }()
	default:
		// Overload: a fast no-bid beats piling up goroutines and answering late.
		res.Outcome = AuctionOverloaded
		return res
	}
	// Running, so a commit of other auctions' wins may wait for this one
	// (commitdelay.go) until it saves or ends.
	arrived := a.expectSave()
	defer arrived()
	// One set for the whole auction, whatever a reload does meanwhile.
	set := a.set.Load()
	if why := set.traffic.invalid(req); why != "" {
		// Crawlers and bots are not sold: no DSP is asked (and none learns
		// to distrust the bridge's traffic).
		res.Outcome, res.InvalidTraffic = AuctionInvalidTraffic, why
		return res
	}
	if len(req.Slots) == 0 || len(set.dsps) == 0 {
		res.Outcome = AuctionNoBid
		return res
	}
	deadline := start.Add(set.tmax)
	dspCtx, cancel := context.WithDeadlineCause(ctx, deadline.Add(-set.reserve), errAuctionDeadline)
	defer cancel()
	res.ID = a.newAuctionID()
	base := buildRequest(res.ID, req, &set.supply)
	j := newJudging(res.ID, req, set.floorMicros)

	res.DSPs = make([]DSPResult, 0, len(set.dsps)) // one each, called or not
	var calls []dspCall
	for _, d := range set.dsps {
		if reason, ok := d.admits(req); !ok {
			r := skipped(d, reason)
			res.DSPs = append(res.DSPs, r)
			a.observer.ObserveDSP(r)
			continue
		}
		left := time.Until(deadline.Add(-set.reserve))
		limit, tmax, ok := d.budget(left)
		if !ok {
			// Too little time left for an answer: not called, costing nothing.
			r := DSPResult{DSP: d.cfg.Name, Outcome: OutcomeSkippedDeadline, Reason: ReasonSkippedDeadline}
			res.DSPs = append(res.DSPs, r)
			a.observer.ObserveDSP(r)
			continue
		}
		p, reason, ok := d.acquire()
		if !ok {
			r := DSPResult{DSP: d.cfg.Name, Outcome: OutcomeBreakerOpen, Reason: reason}
			if reason == ReasonOverloaded {
				r.Outcome = OutcomeOverloaded
			}
			res.DSPs = append(res.DSPs, r)
			a.observer.ObserveDSP(r)
			continue
		}
		// tmax tells the DSP the time it really has, less the round trip.
		callCtx, callCancel := callContext(ctx, dspCtx, limit, limit < left, p.probe)
		calls = append(calls, dspCall{d: d, p: p, ctx: callCtx, cancel: callCancel,
			req: d.request(base, tmax, set.floorMicros)})
	}
	var cands []candidate
	if len(calls) == 1 && !calls[0].p.probe {
		cands = a.callInline(ctx, dspCtx, j, res, &calls[0])
	} else {
		cands = a.callAll(ctx, dspCtx, j, res, set.dsps, calls)
	}
	if ctx.Err() != nil {
		// Nobody is waiting for the answer: storing wins nobody can serve
		// would only cost the database.
		res.Outcome = AuctionCancelled
		return res
	}
	// The wins are stored by a fifth of the reserve before tmax: answering
	// (or refusing, when the database is gone) after a save cut off at
	// tmax itself was late by the time it took, several ms on a starved
	// machine (bridge bench --chaos, during PostgreSQL's crash).
	a.finish(ctx, dspCtx, deadline.Add(-set.reserve/5), res, base.ID, req, cands, arrived)
	return res
}

// finish picks the winner of every slot (resolving its creative by until,
// creatives.go) by the end of dspCtx (tmax less the reserve), stores the
// wins by deadline (a little before tmax) and fills res. arrived tells
// the Batcher once the wins are queued, or that there are none.
func (a *Auctioneer) finish(ctx, dspCtx context.Context, deadline time.Time, res *AuctionResult, auctionID string, req *Request,
	cands []candidate, arrived func()) {
	outs := a.place(dspCtx, auctionID, req.securePage(), req.Slots, cands)
	a.reportRefusals(ctx, auctionID, res, outs)
	won := 0
	for _, o := range outs {
		if o.won != nil {
			won++
		}
	}
	rows, wins, placed := make([]store.Auction, 0, won), make([]Win, 0, won), make([]*placement, 0, won)
	for _, o := range outs { // slot order, so the answer follows the request
		p := o.won
		if p == nil {
			continue
		}
		c, b, s := p.c, p.c.bid, o.slot
		row := store.Auction{
			ExtID: a.newExtID(), AuctionID: auctionID, RequestID: s.ID, CreativeID: s.Creative.ID,
			DSP: c.dsp.cfg.Name, Seat: c.seat, BidID: c.bidID, AdID: b.AdID, PriceMicros: c.priceMicros, BidAdjustmentPPM: c.dsp.adjPPM,
			BidCurrency: c.currency, BidPrice: c.price, FixedPrice: c.fixed,
			NURL: b.NURL, BURL: b.BURL, // canonical since validate
			ClickURL: p.clickURL, ADomain: strings.Join(b.ADomain, ","),
		}
		winDetails(&row, b)
		a.cr.fill(&row, p)
		rows = append(rows, row)
		placed = append(placed, p)
		wins = append(wins, Win{RequestID: row.RequestID, ExtID: row.ExtID, DSP: row.DSP, PriceMicros: row.PriceMicros,
			ServeURL: p.serveURL, Delivery: p.delivery})
	}
	if len(rows) == 0 {
		arrived()
		res.Outcome = AuctionNoBid
		a.sendLosses(auctionID, outs, true)
		return
	}
	saveCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if err := a.save(saveCtx, rows, arrived); err != nil {
		a.cr.notStored(rows)
		if ctx.Err() != nil {
			res.Outcome = AuctionCancelled // the caller hung up while the wins were stored
			return
		}
		// Never promise a win that cannot be billed.
		a.log.ErrorContext(ctx, "wins not stored; answering no bid", "auction_id", auctionID, "error", err)
		res.Outcome = AuctionStoreError
		a.sendLosses(auctionID, outs, false)
		return
	}
	res.Outcome = AuctionWon
	res.Wins = wins
	res.answered = a.cr.stored(rows, placed)
	a.sendLosses(auctionID, outs, true)
}
