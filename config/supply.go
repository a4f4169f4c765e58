package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
)

var (
	iabCategoryRe = regexp.MustCompile(`^IAB[0-9]{1,2}(-[0-9]{1,3})?$`)
	usPrivacyRe   = regexp.MustCompile(`^1[YNyn-]{3}$`)
	domainRe      = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// RequirableFields are the bid fields dsps[].require may name.
var RequirableFields = []string{"adid", "adomain", "burl", "cat", "cid", "crid", "h", "mtype", "w"}

// OnlyDevices are the device types dsps[].only.devices may name (the AdUser
// taxonomy's, as the AdServer's keywords say them).
var OnlyDevices = []string{"desktop", "mobile", "tablet", "tv"}

// CountryISO3 normalises an ISO-3166-1 alpha-2 or alpha-3 code to alpha-3
// (OpenRTB's form), and false for anything else.
func CountryISO3(code string) (string, bool) {
	r, err := language.ParseRegion(strings.TrimSpace(code))
	if err != nil || !r.IsCountry() {
		return "", false
	}
	return r.ISO3(), true
}

// NormalizeCategory is an IAB content category as blocking lists compare
// it: trimmed and upper case ("iab7-39" → "IAB7-39").
func NormalizeCategory(c string) string { return strings.ToUpper(strings.TrimSpace(c)) }

// validateSupply checks supply_chain.*, privacy.*, blocking.*, traffic.*
// and auction.imp_exp.
func (c *Config) validateSupply() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	sc := c.SupplyChain
	if sc.ASI != "" && !domainRe.MatchString(sc.ASI) {
		add("supply_chain.asi: %q must be a lowercase domain name (the operator's advertising system, as in ads.txt), without scheme or path", sc.ASI)
	}
	if sc.ASI != "" && sc.SID == "" {
		add("supply_chain.sid: required with supply_chain.asi (or set adserver.address, its default)")
	}
	if len(sc.SID) > 64 || strings.ContainsFunc(sc.SID, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		add("supply_chain.sid: %q must be at most 64 printable ASCII characters without spaces", sc.SID)
	}
	if sc.Complete != 0 && sc.Complete != 1 {
		add("supply_chain.complete: must be 0 or 1")
	}
	p = append(p, validatePrivacy("privacy", c.Privacy)...)
	p = append(p, validateBlocking("blocking", c.Blocking)...)
	if s := c.Traffic.MinHumanScore; s < 0 || s > 1 {
		add("traffic.min_human_score: %v must be within 0..1 (0 disables the check)", s)
	}
	if c.Auction.ImpExp < 0 || c.Auction.ImpExp > 30*24*time.Hour || c.Auction.ImpExp%time.Second != 0 {
		add("auction.imp_exp: %s must be whole seconds within 0..720h (0: not sent)", c.Auction.ImpExp)
	}
	return p
}

func validatePrivacy(at string, pr Privacy) []string {
	var p []string
	if pr.GDPR != nil && *pr.GDPR != 0 && *pr.GDPR != 1 {
		p = append(p, fmt.Sprintf("%s.gdpr: must be 0 or 1 (leave it out for unknown)", at))
	}
	if pr.COPPA != nil && *pr.COPPA != 0 && *pr.COPPA != 1 {
		p = append(p, fmt.Sprintf("%s.coppa: must be 0 or 1", at))
	}
	if pr.USPrivacy != nil && *pr.USPrivacy != "" && !usPrivacyRe.MatchString(*pr.USPrivacy) {
		p = append(p, fmt.Sprintf("%s.us_privacy: %q is not a US Privacy string (version 1 and three of Y, N, -; e.g. 1YNN)", at, *pr.USPrivacy))
	}
	if pr.Consent != nil && (len(*pr.Consent) > 4096 || strings.ContainsAny(*pr.Consent, " \t\r\n\"")) {
		p = append(p, fmt.Sprintf("%s.consent: must be a consent string without spaces or quotes, at most 4096 characters", at))
	}
	if pr.GPP != nil && (len(*pr.GPP) > 4096 || strings.ContainsAny(*pr.GPP, " \t\r\n\"")) {
		p = append(p, fmt.Sprintf("%s.gpp: must be a GPP string without spaces or quotes, at most 4096 characters", at))
	}
	for _, sid := range pr.GPPSID {
		if sid < 1 || sid > 127 { // OpenRTB sends them as 8-bit integers
			p = append(p, fmt.Sprintf("%s.gpp_sid: section id %d is outside 1..127", at, sid))
		}
	}
	return p
}

func validateBlocking(at string, b Blocking) []string {
	var p []string
	for _, name := range b.Presets {
		if _, ok := BlockingPresets[name]; !ok {
			p = append(p, fmt.Sprintf("%s.presets: unknown preset %q (known: %s)", at, name, strings.Join(presetNames(), ", ")))
		}
	}
	for _, cat := range b.BCat {
		if !iabCategoryRe.MatchString(NormalizeCategory(cat)) {
			p = append(p, fmt.Sprintf("%s.bcat: %q is not an IAB content category (IAB1 .. IAB26, with an optional -N)", at, cat))
		}
	}
	for _, d := range b.BAdv {
		if !domainRe.MatchString(strings.ToLower(strings.TrimSpace(d))) {
			p = append(p, fmt.Sprintf("%s.badv: %q is not a domain name", at, d))
		}
	}
	for _, a := range b.BAttr {
		if a < 1 || a > 17 { // AdCOM creative attributes
			p = append(p, fmt.Sprintf("%s.battr: %d is not a creative attribute (1..17)", at, a))
		}
	}
	return p
}

func presetNames() []string {
	var names []string
	for n := range BlockingPresets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// validateDSPSupply checks one DSP's shaping, pricing, privacy and blocking
// settings.
func validateDSPSupply(at string, d DSP) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if d.QPS < 0 || d.QPS > 1_000_000 {
		add("%s: qps %d must be within 0..1000000 (0: no cap)", at, d.QPS)
	}
	switch d.PriceMissing {
	case "", PriceMissingReject:
		if d.FixedCPM != "" {
			add("%s: fixed_cpm is used only with price_missing: fixed", at)
		}
	case PriceMissingFixed:
		if n, err := ParseDecimal(d.FixedCPM, 6); err != nil || n <= 0 {
			add("%s: price_missing: fixed needs fixed_cpm, a positive decimal CPM in the DSP's currency with at most 6 decimals (got %q)", at, d.FixedCPM)
		}
	default:
		add("%s: price_missing %q is not reject or fixed", at, d.PriceMissing)
	}
	for _, f := range d.Require {
		if !slices.Contains(RequirableFields, f) {
			add("%s: require: %q is not one of %s", at, f, strings.Join(RequirableFields, ", "))
		}
	}
	for _, s := range d.Only.Sizes {
		if !sizeRe.MatchString(s) {
			add("%s: only.sizes: %q is not WxH (e.g. 300x250)", at, s)
		}
	}
	for _, t := range d.Only.Types {
		if _, ok := Mimes[t]; !ok {
			add("%s: only.types: %q is not image or video", at, t)
		}
	}
	for _, cc := range d.Only.Countries {
		if _, ok := CountryISO3(cc); !ok {
			add("%s: only.countries: %q is not an ISO-3166-1 country code", at, cc)
		}
	}
	for _, dev := range d.Only.Devices {
		if !slices.Contains(OnlyDevices, dev) {
			add("%s: only.devices: %q is not one of %s", at, dev, strings.Join(OnlyDevices, ", "))
		}
	}
	p = append(p, validatePrivacy(at+": privacy", d.Privacy)...)
	p = append(p, validateBlocking(at+": blocking", d.Blocking)...)
	return p
}

// SupplyChain identifies the bridge as a seller in source.schain (the
// OpenRTB SupplyChain object) and site.publisher.
type SupplyChain struct {
	// ASI is the operator's advertising-system domain (as in ads.txt and
	// sellers.json); empty sends no schain.
	ASI string `mapstructure:"asi"`
	// SID is the seller id at ASI; default adserver.address. It is also
	// sent as site.publisher.id, as the SupplyChain spec asks.
	SID string `mapstructure:"sid"`
	// Complete is schain.complete: 1 when the bridge's node is the whole
	// chain back to the inventory's owner.
	Complete int `mapstructure:"complete"`
}

// Privacy holds the regulatory signals sent to DSPs. Every field is a
// pointer so that a DSP's override can leave it unset (inherit).
type Privacy struct {
	GDPR      *int    `mapstructure:"gdpr"`       // regs.gdpr: 0 or 1; unset: not sent (unknown)
	Consent   *string `mapstructure:"consent"`    // user.consent (TCF string, or "1"/"0")
	USPrivacy *string `mapstructure:"us_privacy"` // regs.us_privacy, e.g. "1YNN"
	GPP       *string `mapstructure:"gpp"`        // regs.gpp
	GPPSID    []int   `mapstructure:"gpp_sid"`    // regs.gpp_sid
	COPPA     *int    `mapstructure:"coppa"`      // regs.coppa: 0 or 1
}

// Over returns p with every field o sets replaced by o's.
func (p Privacy) Over(o Privacy) Privacy {
	if o.GDPR != nil {
		p.GDPR = o.GDPR
	}
	if o.Consent != nil {
		p.Consent = o.Consent
	}
	if o.USPrivacy != nil {
		p.USPrivacy = o.USPrivacy
	}
	if o.GPP != nil {
		p.GPP = o.GPP
	}
	if o.GPPSID != nil {
		p.GPPSID = o.GPPSID
	}
	if o.COPPA != nil {
		p.COPPA = o.COPPA
	}
	return p
}

// Blocking lists what DSPs must not bid with: IAB content categories
// (bcat), advertiser domains (badv), creative attributes (battr), and named
// presets of such lists (BlockingPresets).
type Blocking struct {
	Presets []string `mapstructure:"presets"`
	BCat    []string `mapstructure:"bcat"`
	BAdv    []string `mapstructure:"badv"`
	BAttr   []int    `mapstructure:"battr"`
}

// BlockingPresets are the named block lists dsps[].blocking.presets and
// blocking.presets may use.
var BlockingPresets = map[string]Blocking{
	// The MoPub-style partner's default blocked categories (its field
	// document): non-standard and illegal content, sexuality, alcohol, cigars.
	"mopub": {BCat: []string{"IAB25", "IAB26", "IAB7-39", "IAB8-5", "IAB8-18", "IAB9-9"}},
}

// Traffic configures the invalid-traffic gate in front of the auction.
type Traffic struct {
	// MinHumanScore: requests whose AdUser human_score is below it are
	// answered [] without asking any DSP (0 disables the check).
	MinHumanScore float64 `mapstructure:"min_human_score"`
}
