package auction

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/macros"
)

// candidate is a valid bid competing for a slot.
type candidate struct {
	dsp         *dspClient
	seat        string
	bid         *bid
	bidID       string // bid.id, else the answer's bidid
	priceMicros int64
	currency    string
	price       string // the price as sent (or dsps[].fixed_cpm), for ${AUCTION_PRICE}
	fixed       bool   // price is dsps[].fixed_cpm: the bid had none
}

// validate sorts one DSP's bids into candidates and rejections
// (ADSERVER-BRIDGE §15; DECISIONS §5). secure is an https page.
func validate(a *answer, imps map[string]bool, secure bool, floorMicros int64) ([]candidate, []Rejection) {
	d := a.dsp
	r := a.response
	var cands []candidate
	var rejs []Rejection
	reject := func(sb *seatBid, b *bid, reason Reason, detail string) {
		rejs = append(rejs, Rejection{DSP: d.cfg.Name, Seat: string(sb.Seat), BidID: b.ID, ImpID: b.ImpID, Reason: reason, Detail: detail})
	}
	cur := string(r.Cur)
	if cur == "" {
		cur = d.cfg.Currency // empty means the request's currency
	}
	// An answer naming another request is not for this auction. An absent
	// id proves nothing either way (lax DSPs leave it out) and passes.
	wrongID := a.sent != nil && r.ID != "" && string(r.ID) != a.sent.ID
	for i := range r.SeatBid {
		sb := &r.SeatBid[i]
		for j := range sb.Bid {
			b := &sb.Bid[j]
			switch {
			case sb.Group == 1:
				// All-or-nothing seats cannot be honoured slot by slot.
				reject(sb, b, ReasonGroup, "seatbid.group=1")
			case wrongID:
				reject(sb, b, ReasonResponseID, "response id "+string(r.ID)+" is not the request's "+a.sent.ID)
			case d.cfg.Seat != "" && string(sb.Seat) != d.cfg.Seat:
				reject(sb, b, ReasonSeat, "seat "+string(sb.Seat)+" is not "+d.cfg.Seat)
			case !imps[b.ImpID] || (a.sent != nil && a.offeredImp(b.ImpID) == nil):
				reject(sb, b, ReasonUnknownImp, "impid "+b.ImpID+" was not offered")
			case !strings.EqualFold(cur, d.cfg.Currency):
				reject(sb, b, ReasonCurrency, "currency "+cur+" is not "+d.cfg.Currency)
			case creativeMode(d.cfg, b) == config.CreativeNURL && !validNURL(b.NURL):
				// The nurl is the creative (its body): no serve_url without it.
				// A markup bid needs none; its nurl is a win notice.
				reject(sb, b, ReasonNoNURL, "nurl missing or not http(s)")
			case hasNUL(string(sb.Seat), b.ID, string(r.BidID), b.AdID, b.BURL, strings.Join(b.ADomain, "")):
				// PostgreSQL text cannot hold NUL: storing this win would
				// fail and cost every slot of the auction its win.
				reject(sb, b, ReasonRejected, "NUL byte in seat, id, bidid, adid, burl or adomain")
			default:
				if reason, detail, ok := d.policy.judgeBid(b, a.offeredImp(b.ImpID)); !ok {
					reject(sb, b, reason, detail)
					continue
				}
				price, fixed := b.Price, false
				if price == "" && d.policy.fixedCPM != "" {
					// A partner whose price is optional (MoPub style): the
					// bid is worth what the contract says.
					price, fixed = json.Number(d.policy.fixedCPM), true
				}
				p, err := priceMicros(price, d.rateNanos)
				// A DSP that bids gross competes, and is billed, at its
				// price times its bid adjustment.
				p = ads.AdjustPrice(p, d.adjPPM)
				switch {
				case err != nil:
					reject(sb, b, ReasonBadPrice, err.Error()+": "+string(price))
				case p <= 0:
					reject(sb, b, ReasonBadPrice, "price rounds to 0 micro-USD: "+string(b.Price))
				case p < floorMicros:
					reject(sb, b, ReasonBelowFloor, "price "+string(price)+" "+cur+" is below the floor")
				case secure && creativeMode(d.cfg, b) == config.CreativeNURL && !browserFetchable(b.NURL):
					// The browser fetches serve_url from the page with XHR and
					// blocks http from https: the slot would stay empty, where
					// a rejection lets the AdServer fill it from elsewhere.
					reject(sb, b, ReasonNoNURL, "http nurl for an https page (imp.secure=1)")
				default:
					id := b.ID
					if id == "" {
						id = string(r.BidID)
					}
					// Its nurl and burl in the macro forms Expand substitutes,
					// once here: placing, storing and delivering the win all
					// use them (each used to rewrite them again).
					b.NURL, b.BURL = macros.Canonical(b.NURL), macros.Canonical(b.BURL)
					if cands == nil {
						// Sized for every bid at once: one allocation, not
						// one per doubling (none if every bid is rejected).
						cands = make([]candidate, 0, countBids(r))
					}
					cands = append(cands, candidate{dsp: d, seat: string(sb.Seat), bid: b, bidID: id, priceMicros: p,
						currency: d.cfg.Currency, price: string(price), fixed: fixed})
				}
			}
		}
	}
	return cands, rejs
}

// countBids is the number of bids of r, over its seats.
func countBids(r *bidResponse) int {
	n := 0
	for _, sb := range r.SeatBid {
		n += len(sb.Bid)
	}
	return n
}

// hasNUL reports whether any of the strings holds a NUL byte.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}

// browserFetchable reports whether an https page may fetch u: https, or
// http to loopback, which browsers treat as a secure origin.
func browserFetchable(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	if p.Scheme == "https" {
		return true
	}
	h := p.Hostname()
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

func validNURL(s string) bool {
	if s == "" || len(s) > 8192 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// better reports whether a beats b: higher price first (first price), then
// the DSP listed first in config, then the smaller bid id, so the same bids
// always give the same winner.
func better(a, b *candidate) bool {
	if a.priceMicros != b.priceMicros {
		return a.priceMicros > b.priceMicros
	}
	if a.dsp.order != b.dsp.order {
		return a.dsp.order < b.dsp.order
	}
	return a.bidID < b.bidID
}

// clickURL is where a click on the ad leads: the bid.ext field the DSP's
// config names, else the advertiser's first domain over https, else "".
func clickURL(d config.DSP, b *bid) string {
	if d.ClickURLField != "" && len(b.Ext) > 0 {
		var ext map[string]json.RawMessage
		if json.Unmarshal(b.Ext, &ext) == nil {
			var s string
			if json.Unmarshal(ext[d.ClickURLField], &s) == nil && validNURL(s) {
				return s
			}
		}
	}
	for _, dom := range b.ADomain {
		dom = strings.TrimSpace(dom)
		if dom == "" || strings.ContainsAny(dom, "/?#@ ") {
			continue
		}
		if strings.Contains(dom, "://") {
			continue
		}
		return "https://" + dom
	}
	return ""
}
