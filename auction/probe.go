package auction

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/creative"
	"github.com/adshares/dsp-bridge/macros"
)

// Probe sends one OpenRTB test request (test=1) for req to every
// configured DSP at once, through each DSP's own client (endpoint,
// headers, gzip, dialect, currency, floor) but outside its breaker and call
// limit and outside any auction: nothing is stored, bids are only counted.
// Each call may take up to wait, so a DSP slower than its timeout still
// shows how slow it is; the request's tmax is what an auction would give
// it. Results are in config order.
//
// The first bid of each answer also has its creative resolved the way an
// auction would (ProbeResult.Creative): its markup (fetching the image or
// the VAST media file), or for the nurl path the body of its nurl — so the
// probe fetches the nurl of test bids, which an auction never does itself.
func (a *Auctioneer) Probe(ctx context.Context, req *Request, wait time.Duration) []ProbeResult {
	set := a.set.Load()
	base := buildRequest(newAuctionID(), req, &set.supply)
	base.Test = 1
	out := make([]ProbeResult, len(set.dsps))
	var wg sync.WaitGroup
	for i, d := range set.dsps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeoutCause(ctx, wait, errDSPTimeout)
			defer cancel()
			_, tmax, _ := d.budget(set.tmax - set.reserve)
			r := d.request(base, max(tmax, config.MinDSPTMax), set.floorMicros)
			if len(r.Imp) == 0 {
				// dsps[].only excludes the probe's slot: offer it anyway,
				// the probe measures the round trip.
				r.Imp = base.Imp
			}
			ans := d.call(cctx, r)
			if ans.response != nil {
				for _, sb := range ans.response.SeatBid {
					ans.result.Bids += len(sb.Bid)
				}
				ans.result.Outcome, ans.result.Reason = OutcomeNoBid, ReasonNoBid
				if ans.result.Bids > 0 {
					ans.result.Outcome, ans.result.Reason = OutcomeBid, 0
				}
			}
			out[i] = ProbeResult{DSPResult: ans.result}
			if ans.result.Bids > 0 {
				out[i].Creative = a.probeCreative(cctx, base.ID, req, d, ans.response)
			}
		}()
	}
	wg.Wait()
	return out
}

// ProbeResult is one DSP's answer to a probe.
type ProbeResult struct {
	DSPResult
	Creative ProbeCreative // of the first bid, when there was one
}

// ProbeCreative is how a probe's bid creative resolved.
type ProbeCreative struct {
	// Path is where the creative came from: markup_image, vast, nurl,
	// or "markup" when markup did not resolve.
	Path string
	// Reason is "" when it resolved, else why not (unrenderable_markup...).
	Reason string
	Detail string // the refusal's detail, or what resolved (type and size)
}

// probeCreative resolves the creative of the answer's first bid for the
// request's first slot.
func (a *Auctioneer) probeCreative(ctx context.Context, auctionID string, req *Request, d *dspClient, r *bidResponse) ProbeCreative {
	if len(req.Slots) == 0 {
		return ProbeCreative{}
	}
	var b *bid
	var seat string
	for _, sb := range r.SeatBid {
		if len(sb.Bid) > 0 {
			b, seat = &sb.Bid[0], string(sb.Seat)
			break
		}
	}
	c := &candidate{dsp: d, seat: seat, bid: b, bidID: b.ID, currency: d.cfg.Currency}
	slot := creative.SlotOf(req.Slots[0].Creative)
	fe := a.cr.fetch.get(d.cfg.Name)
	var cr *creative.Creative
	var err error
	out := ProbeCreative{Path: config.CreativeMarkup}
	if creativeMode(d.cfg, b) == config.CreativeNURL {
		out.Path = string(creative.PathNURL)
		cr, err = fe.resolver.NURL(ctx, slot, macros.Expand(macros.Canonical(b.NURL), bidValues(auctionID, c)))
	} else {
		cr, err = fe.resolver.Markup(ctx, slot, b.AdM, bidValues(auctionID, c))
	}
	if err != nil {
		out.Reason, out.Detail = reasonOfCreative(creative.ReasonOf(err)).String(), creativeDetail(err)
		return out
	}
	out.Path = string(cr.Path)
	out.Detail = fmt.Sprintf("%s %dx%d, %d bytes", cr.ContentType, cr.W, cr.H, len(cr.Bytes))
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

// DSPPolicy is what `dsp probe` shows of one DSP's supply rules: its
// dialect, qps cap, filters, block lists, required bid fields, seat,
// missing-price rule and privacy signals (each "-" when none).
type DSPPolicy struct {
	Name, Dialect, QPS, Only, Blocks, Require, Seat, PriceMissing, Privacy string
}

// DSPPolicies lists every configured DSP's supply rules, in config order.
func (a *Auctioneer) DSPPolicies() []DSPPolicy {
	set := a.set.Load()
	out := make([]DSPPolicy, 0, len(set.dsps))
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, d := range set.dsps {
		p := DSPPolicy{Name: d.cfg.Name, Dialect: d.cfg.Dialect, QPS: "-", Only: d.policy.only.summary(),
			Blocks: d.policy.block.summary(), Require: orDash(strings.Join(d.policy.require, ",")), Seat: orDash(d.cfg.Seat),
			PriceMissing: "reject", Privacy: d.policy.privacy.summary()}
		if d.cfg.QPS > 0 {
			p.QPS = strconv.Itoa(d.cfg.QPS)
		}
		if d.policy.fixedCPM != "" {
			p.PriceMissing = "fixed " + d.policy.fixedCPM + " " + d.cfg.Currency
		}
		out = append(out, p)
	}
	return out
}
