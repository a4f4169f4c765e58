package auction

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/creative"
	"github.com/adshares/dsp-bridge/macros"
	"github.com/adshares/dsp-bridge/store"
)

// creativeMode is where a bid's creative comes from: its markup, or the
// body of its nurl (the Adshares OpenRTB profile), by dsps[].creative; auto
// takes the markup when there is some.
func creativeMode(d config.DSP, b *bid) string {
	switch d.Creative {
	case config.CreativeMarkup, config.CreativeNURL:
		return d.Creative
	}
	if strings.TrimSpace(b.AdM) != "" {
		return config.CreativeMarkup
	}
	return config.CreativeNURL
}

// placement is a slot's winner and how its creative reaches the browser.
type placement struct {
	c           *candidate
	serveURL    string
	delivery    string // nurl, inline, public, direct
	path        creative.Path
	token       string          // public: /c/{token}
	stored      *store.Creative // public: the bytes behind the token
	winNotice   string          // markup: the expanded nurl, a win notice the bridge fires
	clickURL    string          // the markup's click-through, else the bid's
	impressions []string        // markup pixels, VAST Impressions
	cached      bool            // the creative came from the cache
	label       string          // delivery for the counters: direct_fallback when direct fell back to inline
}

// slotOutcome is what resolution did for one slot.
type slotOutcome struct {
	slot    Slot
	won     *placement
	order   []*candidate           // best first
	refused map[*candidate]Refusal // nil until a bid is refused (most slots)
}

// refuse records why c was refused; only resolveSlot's own goroutine calls it.
func (o *slotOutcome) refuse(c *candidate, r Refusal) {
	if o.refused == nil {
		o.refused = map[*candidate]Refusal{}
	}
	o.refused[c] = r
}

// lookahead is how many candidates of a slot resolve at once: the best
// and the next ones, so that one slow creative at the top does not leave
// the bids after it no time for their own fetch (each would lose with
// creative_timeout). Fetching a lower bid's creative costs one fetch, once:
// it is cached for the next auction.
const lookahead = 4

// place resolves the winner of every slot: it takes the slot's candidates
// best first and delivers the first whose creative resolves, the better
// ones losing with the reason of their creative. The candidates of a slot
// resolve a few at a time (lookahead), and the slots in parallel, by the
// deadline of dspCtx (the auction's deadline less what storing the wins
// needs): a creative
// still being fetched then loses with creative_timeout (its fetch finishes
// in the background, for the next auction), so this never makes /bid late.
// Bids of the nurl path need nothing fetched and win at once.
func (a *Auctioneer) place(dspCtx context.Context, auctionID string, secure bool, slots []Slot, cands []candidate) []slotOutcome {
	// Every slot's candidates in one array, each list capped at its length,
	// not a list per slot grown by append (validate kept only offered imps).
	all := make([]*candidate, 0, len(cands))
	bySlot := map[string][]*candidate{}
	for _, s := range slots {
		if _, ok := bySlot[s.ID]; ok {
			continue
		}
		from := len(all)
		for i := range cands {
			if cands[i].bid.ImpID == s.ID {
				all = append(all, &cands[i])
			}
		}
		bySlot[s.ID] = all[from:len(all):len(all)]
	}
	// dspCtx already ends at the auction's deadline less the reserve (the
	// until of this placing): a cancel of its own, without another timer.
	rctx, cancel := context.WithCancel(dspCtx)
	defer cancel() // the look-ahead resolutions of bids that were not needed stop here
	out := make([]slotOutcome, len(slots))
	var wg sync.WaitGroup
	// A slot with candidates is resolved in a goroutine of its own when
	// there are others to resolve beside it; the only one, here.
	bidOn := 0
	for _, s := range slots {
		if len(bySlot[s.ID]) > 0 {
			bidOn++
		}
	}
	for i, s := range slots {
		list := bySlot[s.ID]
		slices.SortStableFunc(list, func(x, y *candidate) int {
			if better(x, y) {
				return -1
			}
			if better(y, x) {
				return 1
			}
			return 0
		})
		out[i] = slotOutcome{slot: s, order: list} // refused is made by the first refusal
		if len(list) == 0 {
			continue
		}
		if bidOn == 1 {
			a.resolveSlot(rctx, auctionID, secure, &out[i])
			continue
		}
		wg.Add(1)
		go func(o *slotOutcome) {
			defer wg.Done()
			a.resolveSlot(rctx, auctionID, secure, o)
		}(&out[i])
	}
	wg.Wait()
	return out
}

// tried is one candidate's resolution, once done is closed.
type tried struct {
	done chan struct{}
	p    *placement
	ref  *Refusal
}

// resolveSlot walks o's candidates best first, resolving the markup bids
// among the next lookahead ones at once, and keeps the first that
// resolves; a bid of the nurl path ends the walk (it needs no fetch)
// unless its burl is refused.
func (a *Auctioneer) resolveSlot(ctx context.Context, auctionID string, secure bool, o *slotOutcome) {
	results := make([]*tried, len(o.order))
	start := func(i int) {
		if i >= len(o.order) || results[i] != nil {
			return
		}
		r := &tried{done: make(chan struct{})}
		results[i] = r
		go func() {
			defer close(r.done)
			r.p, r.ref = a.try(ctx, auctionID, secure, o.slot, o.order[i])
		}()
	}
	for i, c := range o.order {
		if creativeMode(c.dsp.cfg, c.bid) == config.CreativeNURL {
			// Nothing to fetch: it wins, unless its burl is refused.
			p, ref := a.try(ctx, auctionID, secure, o.slot, c)
			if p != nil {
				o.won = p
				return
			}
			o.refuse(c, *ref)
			a.cr.count(&a.cr.refused, ref.Reason.String())
			continue
		}
		for j := i; j < i+lookahead && j < len(o.order); j++ {
			if creativeMode(o.order[j].dsp.cfg, o.order[j].bid) == config.CreativeMarkup {
				start(j)
			}
		}
		r := results[i]
		<-r.done
		if r.p != nil {
			o.won = r.p
			if r.p.path != creative.PathNURL {
				a.cr.count(&a.cr.resolved, string(r.p.path))
				if r.p.cached {
					a.cr.fromCache.Add(1)
				}
			}
			return
		}
		o.refuse(c, *r.ref)
		a.cr.count(&a.cr.refused, r.ref.Reason.String())
	}
}

// refusedNotice says why the first of urls (expanded, "" skipped) that the
// outbound policy refuses would never be delivered; "" if none is refused.
func (fe *fetcher) refusedNotice(urls ...string) string {
	for _, u := range urls {
		if u == "" {
			continue
		}
		if err := fe.client.CheckURL(u); err != nil {
			return "notice URL " + clipURL(u) + ": " + err.Error()
		}
	}
	return ""
}

// bidValues are the macro values of a candidate in this auction.
func bidValues(auctionID string, c *candidate) macros.Values {
	return macros.Values{AuctionID: auctionID, BidID: c.bidID, ImpID: c.bid.ImpID, SeatID: c.seat,
		AdID: c.bid.AdID, Price: string(c.bid.Price), Currency: c.currency}
}

// try resolves one candidate: a placement, or why it loses. The bid's nurl
// and burl are canonical already (validate).
func (a *Auctioneer) try(ctx context.Context, auctionID string, secure bool, slot Slot, c *candidate) (*placement, *Refusal) {
	d, b := c.dsp.cfg, c.bid
	v := bidValues(auctionID, c)
	refuse := func(r Reason, detail string) (*placement, *Refusal) {
		return nil, &Refusal{Rejection: Rejection{DSP: d.Name, Seat: c.seat, BidID: c.bidID, ImpID: b.ImpID, Reason: r, Detail: detail}}
	}
	fe := a.cr.fetch.get(d.Name)
	if creativeMode(d, b) == config.CreativeNURL {
		// The Adshares profile: the browser fetching the nurl is the serve.
		// The bridge fetches only the burl, at the view: a refused one
		// would bill a view the DSP is never told of, so the bid loses now.
		if b.BURL != "" {
			if why := fe.refusedNotice(macros.Expand(b.BURL, v)); why != "" {
				return refuse(ReasonRefusedURL, why)
			}
		}
		return &placement{c: c, delivery: "nurl", label: "nurl", path: creative.PathNURL,
			serveURL: macros.Expand(b.NURL, v), clickURL: clickURL(d, b)}, nil
	}
	cr, err := fe.resolver.Markup(ctx, creative.SlotOf(slot.Creative), b.AdM, v)
	if err != nil {
		reason := reasonOfCreative(creative.ReasonOf(err))
		_, ref := refuse(reason, creativeDetail(err))
		var ce *creative.Error
		ref.wrongSize = errors.As(err, &ce) && ce.WrongSize
		return nil, ref
	}
	p := &placement{c: c, path: cr.Path, cached: cr.Cached}
	// Every URL the bridge will fetch for this win is checked now, expanded
	// as it will be fetched: a refused one would never be delivered.
	if b.NURL != "" {
		p.winNotice = macros.Expand(b.NURL, v)
	}
	if why := fe.refusedNotice(append([]string{p.winNotice, macros.Expand(b.BURL, v)}, cr.ImpressionURLs...)...); why != "" {
		return refuse(ReasonRefusedURL, why)
	}
	now := a.cr.now()
	for _, u := range cr.ImpressionURLs {
		p.impressions = append(p.impressions, creative.ExpandVASTMacros(u, now))
	}
	if cr.ClickURL != "" && validNURL(cr.ClickURL) {
		p.clickURL = cr.ClickURL
	} else {
		p.clickURL = clickURL(d, b)
	}
	if hasNUL(append([]string{p.clickURL, p.winNotice}, p.impressions...)...) {
		return refuse(ReasonUnrenderable, "NUL byte in a URL of the markup")
	}
	if err := a.cr.deliver(p, cr, secure); err != nil {
		return refuse(reasonOfCreative(creative.ReasonOf(err)), creativeDetail(err))
	}
	return p, nil
}

// creativeDetail is a resolution error without its reason (which the
// rejection carries already).
func creativeDetail(err error) string {
	var ce *creative.Error
	if errors.As(err, &ce) {
		if ce.Err != nil {
			return ce.Detail + ": " + ce.Err.Error()
		}
		return ce.Detail
	}
	return err.Error()
}

func clipURL(u string) string {
	if len(u) > 120 {
		return u[:120] + "…"
	}
	return u
}

// sendLosses fires the lurl of every valid bid that did not win (best
// effort). stored says whether the wins were stored: if not, every bid,
// winners included, lost to an internal error.
func (a *Auctioneer) sendLosses(auctionID string, outs []slotOutcome, stored bool) {
	for _, o := range outs {
		var winner *candidate
		if o.won != nil && stored {
			winner = o.won.c
		}
		for _, c := range o.order {
			if c == winner {
				continue
			}
			code := lossHigherBid
			switch r, refused := o.refused[c]; {
			case !stored:
				code = lossInternal
			case refused:
				code = lossCode(r)
			}
			if u := lurlOf(auctionID, c, winner, code); u != "" {
				a.cr.losses.send(lossNotice{dsp: c.dsp.cfg.Name, url: u})
			}
		}
	}
}
