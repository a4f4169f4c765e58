package bridge

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"golang.org/x/text/language"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// applyKeywords fills the typed fields the auction uses from the AdUser
// keyword tree (DECISIONS §3): country (as ISO-3166-1 alpha-3), language,
// device type, OS (when the user agent did not say), browser, the crawler
// verdict, the human score and the site categories. The tree itself stays
// opaque and travels on untouched; a shape this code does not know maps to
// nothing.
func applyKeywords(raw json.RawMessage, site *auction.Site, d *auction.Device, u *auction.User) {
	if len(raw) == 0 {
		return
	}
	var tree struct {
		User       laxjson.Object[map[string]json.RawMessage] `json:"user"`
		Device     laxjson.Object[map[string]json.RawMessage] `json:"device"`
		Site       laxjson.Object[map[string]json.RawMessage] `json:"site"`
		HumanScore json.RawMessage                            `json:"human_score"`
	}
	if json.Unmarshal(raw, &tree) != nil {
		return
	}
	if c := laxjson.FirstString(tree.User.V["country"]); c != "" {
		if r, err := language.ParseRegion(c); err == nil && r.ISO3() != "ZZZ" {
			d.Country = r.ISO3()
		}
	}
	if l := strings.ToLower(laxjson.FirstString(tree.User.V["language"])); len(l) == 2 {
		d.Language = l
	}
	switch strings.ToLower(laxjson.FirstString(tree.Device.V["type"])) {
	case "desktop":
		d.Type = adcom1.DevicePC
	case "mobile":
		d.Type = adcom1.DevicePhone
	case "tablet":
		d.Type = adcom1.DeviceTablet
	case "tv":
		d.Type = adcom1.DeviceTV
	}
	if d.OS == "" {
		d.OS = keywordOS(strings.ToLower(laxjson.FirstString(tree.Device.V["os"])), d.Type)
	}
	if b := strings.ToLower(laxjson.FirstString(tree.Device.V["browser"])); b != "" && b != "other" {
		d.Browser = b
	}
	var crawler laxjson.Bool
	if c := tree.Device.V["crawler"]; len(c) > 0 && json.Unmarshal(c, &crawler) == nil {
		d.Crawler = crawler.V
	}
	if s, ok := firstNumber(tree.HumanScore); ok {
		u.HumanScore = &s
	}
	var cats laxjson.Strings
	if c := tree.Site.V["category"]; len(c) > 0 && json.Unmarshal(c, &cats) == nil {
		for _, cat := range cats {
			if cat = strings.ToLower(strings.TrimSpace(cat)); cat != "" {
				site.Categories = append(site.Categories, cat)
			}
		}
	}
}

// keywordOS is OpenRTB's OS name for an AdUser OS family. AdUser's
// "apple-os" is iOS on phones and tablets and macOS elsewhere; "unix"
// (Linux, BSD, ChromeOS, Tizen, ...) and "other" name no one OS.
func keywordOS(os string, t adcom1.DeviceType) string {
	switch os {
	case "android":
		return "Android"
	case "windows":
		return "Windows"
	case "apple-os", "apple_os":
		if t == adcom1.DevicePhone || t == adcom1.DeviceTablet {
			return "iOS"
		}
		return "macOS"
	}
	return ""
}

// firstNumber reads 0.9, [0.9] or "0.9" (PHP keeps numbers as sent).
func firstNumber(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var l []json.RawMessage
		if json.Unmarshal(raw, &l) != nil || len(l) == 0 {
			return 0, false
		}
		raw = bytes.TrimSpace(l[0])
	}
	var s laxjson.String
	if len(raw) == 0 || s.UnmarshalJSON(raw) != nil || s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if err != nil || f != f || f < 0 || f > 1 { // f != f: NaN
		return 0, false
	}
	return f, true
}
