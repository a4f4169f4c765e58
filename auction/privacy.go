package auction

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/config"
)

// Bits of a client address kept when a request must be anonymised: the
// IPv4 /24 (the MoPub-style document: "truncate the 8 lowest bits") and
// the IPv6 /56 (Prebid Server's default, a typical customer site prefix).
const (
	keepIPv4Bits = 24
	keepIPv6Bits = 56
)

// privacy is one DSP's regulatory signals, resolved (privacy.* with its
// dsps[].privacy over it).
type privacy struct {
	gdpr      *int8
	consent   string
	usPrivacy string
	gpp       string
	gppSID    []int8
	coppa     int8
	// anonymize: the signals say this visitor's data may not be shared.
	anonymize bool
}

func newPrivacy(c config.Privacy) privacy {
	var p privacy
	if c.GDPR != nil {
		g := int8(*c.GDPR)
		p.gdpr = &g
	}
	p.consent = deref(c.Consent)
	p.usPrivacy = deref(c.USPrivacy)
	p.gpp = deref(c.GPP)
	for _, s := range c.GPPSID {
		p.gppSID = append(p.gppSID, int8(s))
	}
	if c.COPPA != nil {
		p.coppa = int8(*c.COPPA)
	}
	noConsent := p.consent == "" || p.consent == "0" // "0" is the MoPub-style "no consent"
	optOut := len(p.usPrivacy) == 4 && strings.EqualFold(p.usPrivacy[2:3], "y")
	p.anonymize = (p.gdpr != nil && *p.gdpr == 1 && noConsent) || p.coppa == 1 || optOut
	return p
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// apply writes the signals into r (2.6 places; downTo25 moves them for 2.5
// DSPs) and, when they forbid sharing the visitor's data, removes it.
func (p *privacy) apply(r *openrtb2.BidRequest) {
	if p.gdpr != nil || p.usPrivacy != "" || p.gpp != "" || len(p.gppSID) > 0 || p.coppa != 0 {
		r.Regs = &openrtb2.Regs{GDPR: p.gdpr, USPrivacy: p.usPrivacy, GPP: p.gpp, GPPSID: p.gppSID, COPPA: p.coppa}
	}
	if p.anonymize {
		anonymize(r)
	}
	if p.consent != "" {
		u := openrtb2.User{}
		if r.User != nil {
			u = *r.User
		}
		u.Consent = p.consent
		r.User = &u
	}
}

// anonymize removes what identifies the visitor, as the MoPub-style
// document prescribes without GDPR consent: the user id and the AdUser
// keyword tree (opaque, so it may hold interest and demographic segments)
// go, the IP address is truncated. What describes the page or the device
// class (country, language, device type, OS, user agent) stays.
func anonymize(r *openrtb2.BidRequest) {
	r.User = nil
	if r.Device != nil {
		d := *r.Device
		d.IP, d.IPv6 = truncateIP(d.IP), truncateIP(d.IPv6)
		r.Device = &d
	}
}

// truncateIP zeroes the host part of an address: all but the first
// keepIPv4Bits of IPv4, keepIPv6Bits of IPv6. Anything unparsable is
// dropped rather than sent whole.
func truncateIP(s string) string {
	if s == "" {
		return ""
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	bits := keepIPv6Bits
	if ip.Is4() {
		bits = keepIPv4Bits
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}

// summary is the signals as `dsp probe` prints them.
func (p *privacy) summary() string {
	var parts []string
	if p.gdpr != nil {
		parts = append(parts, "gdpr="+strconv.Itoa(int(*p.gdpr)))
	}
	if p.consent != "" {
		parts = append(parts, "consent")
	}
	if p.usPrivacy != "" {
		parts = append(parts, "us_privacy="+p.usPrivacy)
	}
	if p.gpp != "" {
		parts = append(parts, "gpp")
	}
	if p.coppa == 1 {
		parts = append(parts, "coppa=1")
	}
	if p.anonymize {
		parts = append(parts, "anonymized")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
