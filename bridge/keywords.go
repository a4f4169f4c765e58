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
	k := keywordTree{
		country: tree.User.V["country"], language: tree.User.V["language"],
		deviceType: tree.Device.V["type"], os: tree.Device.V["os"], browser: tree.Device.V["browser"], crawler: tree.Device.V["crawler"],
		category: tree.Site.V["category"], humanScore: tree.HumanScore,
	}
	k.apply(stdLax, site, d, u)
}

// keywordTree is what applyKeywords reads of the keyword tree: each entry
// as its raw JSON, nil when absent.
type keywordTree struct {
	country, language                json.RawMessage // user.*
	deviceType, os, browser, crawler json.RawMessage // device.*
	category                         json.RawMessage // site.category
	humanScore                       json.RawMessage
}

// laxReader reads the tree's lax values: stdLax with encoding/json (any
// raw JSON), fastLax with the scanner (JSON it has already checked).
type laxReader struct {
	firstString func(json.RawMessage) string
	boolean     func(json.RawMessage) (laxjson.Bool, bool)
	strings     func(json.RawMessage) ([]string, bool)
	number      func(json.RawMessage) (float64, bool)
}

var stdLax = laxReader{
	firstString: laxjson.FirstString,
	boolean: func(raw json.RawMessage) (laxjson.Bool, bool) {
		var b laxjson.Bool
		return b, json.Unmarshal(raw, &b) == nil
	},
	strings: func(raw json.RawMessage) ([]string, bool) {
		var l laxjson.Strings
		return l, json.Unmarshal(raw, &l) == nil
	},
	number: firstNumber,
}

func (k *keywordTree) apply(lax laxReader, site *auction.Site, d *auction.Device, u *auction.User) {
	if c := lax.firstString(k.country); c != "" {
		if r, err := language.ParseRegion(c); err == nil && r.ISO3() != "ZZZ" {
			d.Country = r.ISO3()
		}
	}
	if l := strings.ToLower(lax.firstString(k.language)); len(l) == 2 {
		d.Language = l
	}
	switch strings.ToLower(lax.firstString(k.deviceType)) {
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
		d.OS = keywordOS(strings.ToLower(lax.firstString(k.os)), d.Type)
	}
	if b := strings.ToLower(lax.firstString(k.browser)); b != "" && b != "other" {
		d.Browser = b
	}
	if len(k.crawler) > 0 {
		if crawler, ok := lax.boolean(k.crawler); ok {
			d.Crawler = crawler.V
		}
	}
	if s, ok := lax.number(k.humanScore); ok {
		u.HumanScore = &s
	}
	if len(k.category) > 0 {
		if cats, ok := lax.strings(k.category); ok {
			for _, cat := range cats {
				if cat = strings.ToLower(strings.TrimSpace(cat)); cat != "" {
					site.Categories = append(site.Categories, cat)
				}
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
	if len(raw) == 0 || s.UnmarshalJSON(raw) != nil {
		return 0, false
	}
	return score(string(s))
}

// score reads a human score's text: a number in 0..1.
func score(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != f || f < 0 || f > 1 { // f != f: NaN
		return 0, false
	}
	return f, true
}
