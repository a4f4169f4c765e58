package auction

import (
	"encoding/json"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// downTo25 moves the fields OpenRTB 2.6 promoted to the top level back to
// where 2.5 partners read them (the IAB's 2.5 extensions, as Prebid Server
// does): source.schain → source.ext.schain, regs.gdpr and regs.us_privacy →
// regs.ext, user.consent → user.ext.consent. GPP has no 2.5 field; it goes
// to regs.ext.gpp and regs.ext.gpp_sid, where 2.5 readers of GPP look.
// Shared objects are copied before they change.
func downTo25(r *openrtb2.BidRequest) {
	if r.Source != nil && r.Source.SChain != nil {
		s := *r.Source
		s.Ext = setExt(s.Ext, "schain", s.SChain)
		s.SChain = nil
		r.Source = &s
	}
	if r.Regs != nil {
		g := *r.Regs
		if g.GDPR != nil {
			g.Ext = setExt(g.Ext, "gdpr", *g.GDPR)
			g.GDPR = nil
		}
		if g.USPrivacy != "" {
			g.Ext = setExt(g.Ext, "us_privacy", g.USPrivacy)
			g.USPrivacy = ""
		}
		if g.GPP != "" {
			g.Ext = setExt(g.Ext, "gpp", g.GPP)
			g.GPP = ""
		}
		if len(g.GPPSID) > 0 {
			g.Ext = setExt(g.Ext, "gpp_sid", g.GPPSID)
			g.GPPSID = nil
		}
		r.Regs = &g
	}
	if r.User != nil && r.User.Consent != "" {
		u := *r.User
		u.Ext = setExt(u.Ext, "consent", u.Consent)
		u.Consent = ""
		r.User = &u
	}
}

// setExt returns ext (a JSON object, or empty) with key set to v. The
// bridge writes every ext it sends, so ext is always an object here.
func setExt(ext json.RawMessage, key string, v any) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(ext) > 0 {
		json.Unmarshal(ext, &m)
	}
	b, _ := json.Marshal(v)
	m[key] = b
	out, _ := json.Marshal(m) // sorted keys: the same request gives the same bytes
	return out
}
