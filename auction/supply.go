package auction

import (
	"strings"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/config"
)

// SupplyChainVersion is the version of the OpenRTB SupplyChain object the
// bridge writes.
const SupplyChainVersion = "1.0"

// supply is what the operator's config says about the seller and the
// impressions: the bridge's supply-chain node, the publisher id and
// imp.exp. It is part of a dspSet, so a reload swaps it with the DSPs.
type supply struct {
	asi, sid   string // empty asi: no schain
	complete   int8
	expSeconds int64
}

func newSupply(cfg *config.Config) supply {
	return supply{asi: cfg.SupplyChain.ASI, sid: cfg.SupplyChain.SID, complete: int8(cfg.SupplyChain.Complete),
		expSeconds: int64(cfg.Auction.ImpExp.Seconds())}
}

// schain is the bridge's SupplyChain for one request: a single node for
// the bridge, which is the first system to put this inventory into
// OpenRTB (the AdServer speaks no OpenRTB), so the chain starts with it.
func (s *supply) schain(requestID string) *openrtb2.SupplyChain {
	if s.asi == "" || s.sid == "" {
		return nil
	}
	hp := int8(1) // the bridge pays the AdServer for what it sells
	return &openrtb2.SupplyChain{Complete: s.complete, Ver: SupplyChainVersion,
		Nodes: []openrtb2.SupplyChainNode{{ASI: s.asi, SID: s.sid, RID: requestID, HP: &hp}}}
}

// completeRequest adds to the DSP-independent BidRequest what describes
// the supply beyond the slots: source (tid, schain), site.publisher,
// site.cat, site.keywords, imp.tagid and imp.exp, and what the user agent
// says of the device.
func completeRequest(r *openrtb2.BidRequest, req *Request, s *supply) {
	// Every DSP of this auction gets the same request id, so the
	// transaction id (common to all participants) can be that id.
	r.Source = &openrtb2.Source{TID: r.ID, SChain: s.schain(r.ID)}
	site := r.Site
	if site == nil {
		site = &openrtb2.Site{}
	}
	if s.sid != "" {
		// The SupplyChain spec: sid is the value sent as publisher.id.
		site.Publisher = &openrtb2.Publisher{ID: s.sid}
	}
	site.Cat = iabCategories(req.Site.Categories)
	if kw := joinKeywords(req.Site.Keywords); kw != "" {
		site.Keywords = kw
	}
	if site.Publisher != nil || len(site.Cat) > 0 || site.Keywords != "" || r.Site != nil {
		r.Site = site
	}
	for i := range r.Imp {
		r.Imp[i].TagID = req.Slots[i].Creative.ID
		r.Imp[i].Exp = s.expSeconds
	}
	if r.Device == nil {
		r.Device = &openrtb2.Device{}
	}
	d := r.Device
	d.OS, d.OSV, d.Make, d.Model = req.Device.OS, req.Device.OSV, req.Device.Make, req.Device.Model
	one := int8(1)
	d.JS = &one // the AdServer's ads are placed by its JavaScript: the page runs it
	if req.Device.DNT != nil {
		dnt := int8(0)
		if *req.Device.DNT {
			dnt = 1
		}
		d.DNT = &dnt
	}
}

// joinKeywords is OpenRTB's keywords form: a comma-separated list (commas
// inside a keyword would split it, so they become spaces).
func joinKeywords(kws []string) string {
	var out []string
	for _, k := range kws {
		k = strings.Join(strings.Fields(strings.ReplaceAll(k, ",", " ")), " ")
		if k != "" {
			out = append(out, k)
		}
	}
	return strings.Join(out, ",")
}

// validSChain checks a SupplyChain against the rules of the OpenRTB
// SupplyChain object (version 1.0): complete is 0 or 1, ver is given,
// there is at least one node, and every node has an asi (a domain), a sid
// of at most 64 characters and hp = 1 (in 1.0 every node handles payment).
// It returns the first rule broken, or "".
func validSChain(sc *openrtb2.SupplyChain) string {
	switch {
	case sc == nil:
		return "no schain"
	case sc.Complete != 0 && sc.Complete != 1:
		return "complete must be 0 or 1"
	case sc.Ver == "":
		return "ver is required"
	case len(sc.Nodes) == 0:
		return "nodes must not be empty"
	}
	for _, n := range sc.Nodes {
		switch {
		case n.ASI == "" || strings.ContainsAny(n.ASI, "/: ") || !strings.Contains(n.ASI, "."):
			return "node asi must be a domain name"
		case n.SID == "" || len(n.SID) > 64:
			return "node sid must be 1..64 characters"
		case n.HP == nil || *n.HP != 1:
			return "node hp must be 1 in SupplyChain 1.0"
		}
	}
	return ""
}
