package bridge

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
	"golang.org/x/text/language"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/inventory"
)

// KeywordsExtKey is the user.ext key under which the AdServer's opaque
// keyword tree travels to DSPs unchanged (DECISIONS §3).
const KeywordsExtKey = "adshares_keywords"

// Slot is one slot of an auction: what the AdServer asked and the inventory
// creative it named.
type Slot struct {
	Request  SlotRequest
	Creative *inventory.Creative
}

// buildRequest makes the DSP-independent part of the OpenRTB 2.6 BidRequest
// (ADSERVER-BRIDGE §15): one banner imp per slot, site, device and user.
// cur, tmax and the floor are set per DSP when it is called.
func buildRequest(id string, call *BidCall, slots []Slot) *openrtb2.BidRequest {
	r := &openrtb2.BidRequest{ID: id, AT: 1, Imp: make([]openrtb2.Imp, 0, len(slots))}
	secure := securePage(call)
	for _, s := range slots {
		imp := openrtb2.Imp{
			ID: s.Request.RequestID,
			Banner: &openrtb2.Banner{
				Format: []openrtb2.Format{{W: s.Creative.W, H: s.Creative.H}},
				MIMEs:  slotMimes(s),
			},
		}
		if s.Request.TopFrame != nil && *s.Request.TopFrame {
			imp.Banner.TopFrame = 1
		}
		if secure {
			// The browser fetches serve_url from an https page: the DSP
			// must answer with an https nurl.
			one := int8(1)
			imp.Secure = &one
		}
		r.Imp = append(r.Imp, imp)
	}
	if call.Site.Domain != "" || call.Site.Page != "" || call.Site.Referrer != "" {
		r.Site = &openrtb2.Site{Domain: call.Site.Domain, Page: call.Site.Page, Ref: call.Site.Referrer}
	}
	kw := parseKeywords(call.User.Keywords)
	d := &openrtb2.Device{UA: call.Device.UserAgent, Language: kw.language, DeviceType: kw.deviceType}
	if ip, err := netip.ParseAddr(call.Device.IP); err == nil {
		// Exactly one of ip or ipv6 (§15); IPv4-mapped IPv6 is IPv4.
		if ip = ip.Unmap(); ip.Is4() {
			d.IP = ip.String()
		} else {
			d.IPv6 = ip.String()
		}
	}
	if kw.country != "" {
		d.Geo = &openrtb2.Geo{Country: kw.country}
	}
	if d.UA != "" || d.IP != "" || d.IPv6 != "" || d.Language != "" || d.DeviceType != 0 || d.Geo != nil {
		r.Device = d
	}
	if call.User.UID != "" || len(call.User.Keywords) > 0 {
		r.User = &openrtb2.User{ID: call.User.UID}
		if len(call.User.Keywords) > 0 {
			var ext bytes.Buffer
			ext.WriteString(`{"` + KeywordsExtKey + `":`)
			ext.Write(call.User.Keywords)
			ext.WriteString("}")
			r.User.Ext = ext.Bytes()
		}
	}
	return r
}

// securePage reports whether the ad goes on an https page, where the
// browser blocks an http serve_url (mixed content).
func securePage(call *BidCall) bool {
	return strings.HasPrefix(strings.ToLower(call.Site.Page), "https:")
}

// slotMimes are the request's mimes that fit the creative's type (the
// browser renders the served bytes as that type), else the creative's mime.
func slotMimes(s Slot) []string {
	fit := config.Mimes[s.Creative.Type]
	var out []string
	for _, m := range s.Request.Mimes {
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

// keywords are the parts of the AdUser keyword tree OpenRTB has fields for.
type keywords struct {
	country    string // ISO-3166-1 alpha-3
	language   string // ISO-639-1
	deviceType adcom1.DeviceType
}

func parseKeywords(raw json.RawMessage) keywords {
	var k keywords
	if len(raw) == 0 {
		return k
	}
	var tree struct {
		User   phpObject[map[string]json.RawMessage] `json:"user"`
		Device phpObject[map[string]json.RawMessage] `json:"device"`
	}
	if json.Unmarshal(raw, &tree) != nil {
		return k // opaque: a shape we do not know maps to nothing
	}
	if c := firstString(tree.User.V["country"]); c != "" {
		if r, err := language.ParseRegion(c); err == nil && r.ISO3() != "ZZZ" {
			k.country = r.ISO3()
		}
	}
	if l := strings.ToLower(firstString(tree.User.V["language"])); len(l) == 2 {
		k.language = l
	}
	switch strings.ToLower(firstString(tree.Device.V["type"])) {
	case "desktop":
		k.deviceType = adcom1.DevicePC
	case "mobile":
		k.deviceType = adcom1.DevicePhone
	case "tablet":
		k.deviceType = adcom1.DeviceTablet
	case "tv":
		k.deviceType = adcom1.DeviceTV
	}
	return k
}

// firstString reads "x" or ["x", ...].
func firstString(raw json.RawMessage) string {
	var l phpStrings
	if len(raw) == 0 || l.UnmarshalJSON(raw) != nil || len(l) == 0 {
		return ""
	}
	return strings.TrimSpace(l[0])
}
