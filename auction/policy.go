package auction

import (
	"slices"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/config"
)

// policy is one DSP's supply rules, resolved from its dsps[] entry over
// the bridge-wide defaults: privacy signals, block lists, filters, the
// bid fields it must fill and what a bid without a price means. It is
// rebuilt with every dspSet, so a reload of privacy.* or blocking.* reaches
// a DSP whose own entry did not change (and which keeps its pool and
// breaker).
type policy struct {
	privacy  privacy
	block    blockLists
	only     only
	require  []string
	fixedCPM string // the price of a bid without one; "" rejects such bids
}

func newPolicy(cfg *config.Config, d config.DSP) policy {
	p := policy{
		privacy: newPrivacy(cfg.Privacy.Over(d.Privacy)),
		block:   newBlockLists(cfg.Blocking, d.Blocking),
		only:    newOnly(d.Only),
		require: slices.Clone(d.Require),
	}
	if d.PriceMissing == config.PriceMissingFixed {
		p.fixedCPM = d.FixedCPM
	}
	return p
}

// shape turns the DSP's copy of the BidRequest into what this DSP may
// get: only the imps it buys, its seat, its block lists, its privacy
// signals (anonymised where they say so), and its OpenRTB version.
func (c *dspClient) shape(r *openrtb2.BidRequest) {
	p := &c.policy
	r.Imp = p.only.offered(r.Imp)
	if c.cfg.Seat != "" {
		// The seat the DSP bids for (Mopedo style); validate accepts no other.
		r.WSeat = []string{c.cfg.Seat}
	}
	p.block.apply(r)
	p.privacy.apply(r)
	if c.cfg.Dialect == "2.5" {
		downTo25(r)
	}
}
