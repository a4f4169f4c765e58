package auction

import (
	"bytes"
	"net/netip"
	"strings"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
)

// KeywordsExtKey is the user.ext key under which the AdServer's opaque
// keyword tree travels to DSPs unchanged (DECISIONS §3).
const KeywordsExtKey = "adshares_keywords"

// buildRequest makes the DSP-independent part of the OpenRTB 2.6 BidRequest
// (ADSERVER-BRIDGE §15): one banner imp per slot, site, device, user and
// the supply (completeRequest). cur, tmax, the floor, blocking, privacy
// and the dialect are set per DSP when it is called.
func buildRequest(id string, req *Request, sup *supply) *openrtb2.BidRequest {
	r := &openrtb2.BidRequest{ID: id, AT: 1, Imp: make([]openrtb2.Imp, 0, len(req.Slots))}
	secure := req.securePage()
	for _, s := range req.Slots {
		imp := openrtb2.Imp{
			ID: s.ID,
			Banner: &openrtb2.Banner{
				Format: []openrtb2.Format{{W: s.Creative.W, H: s.Creative.H}},
				MIMEs:  slotMimes(s),
			},
		}
		if s.TopFrame != nil && *s.TopFrame {
			imp.Banner.TopFrame = 1
		} else if s.TopFrame == nil && req.Site.InFrame != nil && !*req.Site.InFrame {
			// The page said it is not framed; the slot said nothing.
			imp.Banner.TopFrame = 1
		}
		if s.Creative.Type == "video" {
			imp.Video = videoOf(s)
		}
		if secure {
			// The browser fetches serve_url from an https page: the DSP
			// must answer with an https nurl.
			one := int8(1)
			imp.Secure = &one
		}
		r.Imp = append(r.Imp, imp)
	}
	if site := req.Site; site.Domain != "" || site.Page != "" || site.Referrer != "" {
		r.Site = &openrtb2.Site{Domain: site.Domain, Page: site.Page, Ref: site.Referrer}
	}
	d := &openrtb2.Device{UA: req.Device.UserAgent, Language: req.Device.Language, DeviceType: req.Device.Type}
	if ip, err := netip.ParseAddr(req.Device.IP); err == nil {
		// Exactly one of ip or ipv6 (§15); IPv4-mapped IPv6 is IPv4.
		if ip = ip.Unmap(); ip.Is4() {
			d.IP = ip.String()
		} else {
			d.IPv6 = ip.String()
		}
	}
	if req.Device.Country != "" {
		d.Geo = &openrtb2.Geo{Country: req.Device.Country}
	}
	if d.UA != "" || d.IP != "" || d.IPv6 != "" || d.Language != "" || d.DeviceType != 0 || d.Geo != nil {
		r.Device = d
	}
	if u := req.User; u.ID != "" || len(u.Keywords) > 0 {
		r.User = &openrtb2.User{ID: u.ID}
		if len(u.Keywords) > 0 {
			var ext bytes.Buffer
			ext.WriteString(`{"` + KeywordsExtKey + `":`)
			ext.Write(u.Keywords)
			ext.WriteString("}")
			r.User.Ext = ext.Bytes()
		}
	}
	completeRequest(r, req, sup)
	return r
}

// slotMimes are the request's mimes that fit the creative's type (the
// browser renders the served bytes as that type), else the creative's mime.
func slotMimes(s Slot) []string {
	fit := config.Mimes[s.Creative.Type]
	var out []string
	for _, m := range s.Mimes {
		for _, f := range fit {
			if strings.EqualFold(m, f) {
				out = append(out, f)
				break
			}
		}
	}
	if len(out) == 0 {
		out = []string{s.Creative.Mime}
	}
	return out
}

// request is the DSP's own copy of the BidRequest: its currency, the time
// it really has, the floor in its currency, and its dialect.
func (c *dspClient) request(base *openrtb2.BidRequest, tmax time.Duration, floorMicros int64) *openrtb2.BidRequest {
	r := *base
	r.Cur = []string{c.cfg.Currency}
	r.TMax = tmax.Milliseconds()
	// A DSP bidding gross is told the gross floor, so that its adjusted
	// bid at the floor is not below the real one.
	floor := floorInCurrency(ads.GrossFloor(floorMicros, c.adjPPM), c.rateNanos)
	r.Imp = make([]openrtb2.Imp, len(base.Imp))
	for i, imp := range base.Imp {
		if imp.Banner != nil && c.cfg.Dialect == "2.5" && len(imp.Banner.Format) > 0 {
			// 2.5-era DSPs often read only banner.w/h.
			b := *imp.Banner
			w, h := b.Format[0].W, b.Format[0].H
			b.W, b.H = &w, &h
			imp.Banner = &b
		}
		if imp.Video != nil && c.cfg.Dialect == "2.5" {
			imp.Video = video25(imp.Video)
		}
		if floor > 0 {
			imp.BidFloor = float64(floor) / 1e6
			imp.BidFloorCur = c.cfg.Currency
		}
		r.Imp[i] = imp
	}
	c.shape(&r)
	return &r
}
