package config

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

// InventoryProblems lists what is wrong with the inventory configuration:
// everything the AdServer would choke on in /inventory (§7).
func (c *Config) InventoryProblems() []string { return c.validateInventory() }

func (c *Config) validateInventory() []string {
	var p []string
	if c.Inventory.Classifier == "" {
		p = append(p, "inventory.classifier: required")
	}
	campaigns := map[string]bool{}
	creatives := map[string]string{}
	for i, cp := range c.Inventory.Campaigns {
		at := fmt.Sprintf("inventory.campaigns[%d]", i)
		if !validHexID(cp.ID) {
			p = append(p, fmt.Sprintf("%s: id %q must be 32 lowercase hex characters", at, cp.ID))
		} else if campaigns[cp.ID] {
			p = append(p, fmt.Sprintf("%s: duplicate campaign id %s", at, cp.ID))
		}
		campaigns[cp.ID] = true
		if err := checkInventoryURL(cp.LandingURL); err != "" {
			p = append(p, fmt.Sprintf("%s: landing_url %s", at, err))
		}
		if cp.Budget <= 0 {
			p = append(p, fmt.Sprintf("%s: budget must be a positive number of clicks", at))
		}
		if cp.MaxCPM < 0 {
			p = append(p, fmt.Sprintf("%s: max_cpm must not be negative", at))
		}
		var start, end time.Time
		var err error
		if cp.DateStart != "" {
			if start, err = ads.ParseATOM(cp.DateStart); err != nil {
				p = append(p, fmt.Sprintf("%s: date_start %q is not YYYY-MM-DDTHH:MM:SS+00:00", at, cp.DateStart))
			}
		}
		if cp.DateEnd != "" {
			if end, err = ads.ParseATOM(cp.DateEnd); err != nil {
				p = append(p, fmt.Sprintf("%s: date_end %q is not YYYY-MM-DDTHH:MM:SS+00:00", at, cp.DateEnd))
			} else if !start.IsZero() && !end.After(start) {
				p = append(p, fmt.Sprintf("%s: date_end must be after date_start", at))
			}
		}
		if len(cp.Creatives) == 0 {
			p = append(p, fmt.Sprintf("%s: needs at least one creative", at))
		}
		for j, cr := range cp.Creatives {
			cat := fmt.Sprintf("%s.creatives[%d]", at, j)
			mimes, known := Mimes[cr.Type]
			if !known {
				p = append(p, fmt.Sprintf("%s: type %q is not image or video", cat, cr.Type))
			} else if !contains(mimes, cr.Mime) {
				p = append(p, fmt.Sprintf("%s: mime %q is not one of %s for type %s", cat, cr.Mime, strings.Join(mimes, ", "), cr.Type))
			}
			if !sizeRe.MatchString(cr.Size) {
				p = append(p, fmt.Sprintf("%s: size %q is not WxH (e.g. 300x250)", cat, cr.Size))
			}
			if !validHexID(cr.ID) {
				p = append(p, fmt.Sprintf("%s: id %q must be 32 lowercase hex characters", cat, cr.ID))
			} else if other, dup := creatives[cr.ID]; dup {
				p = append(p, fmt.Sprintf("%s: duplicate creative id %s (also %s)", cat, cr.ID, other))
			} else {
				creatives[cr.ID] = cat
			}
		}
	}
	return p
}

// checkInventoryURL applies the AdServer's inventory URL rule (§4.7): an
// absolute http(s) URL of at most 1024 characters.
func checkInventoryURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute http(s) URL", raw)
	}
	if len(raw) > 1024 {
		return fmt.Sprintf("%q is longer than 1024 characters", raw)
	}
	if strings.ContainsAny(raw, " \t\r\n\"<>\\^`{|}") {
		return fmt.Sprintf("%q contains characters a URL may not", raw)
	}
	return ""
}

// DeriveCreativeID returns a stable id for a creative the operator gave no id:
// a name-based (version 5 style) UUID of campaign id and type|mime|size,
// without dashes. Never random: the AdServer maps ids across imports.
func DeriveCreativeID(campaignID, typ, mime, size string) string {
	sum := sha1.Sum([]byte(campaignID + "|" + typ + "|" + mime + "|" + size))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return hex.EncodeToString(sum[:16])
}

// ParseSize splits "WxH" into width and height.
func ParseSize(s string) (w, h int64, ok bool) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	w, _ = strconv.ParseInt(m[1], 10, 64)
	h, _ = strconv.ParseInt(m[2], 10, 64)
	return w, h, true
}
