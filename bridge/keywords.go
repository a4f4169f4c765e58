package bridge

import (
	"encoding/json"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"golang.org/x/text/language"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// applyKeywords fills what OpenRTB has fields for from the AdUser keyword
// tree (DECISIONS §3): country (as ISO-3166-1 alpha-3), language and device
// type. The tree itself stays opaque and travels on untouched; a shape this
// code does not know maps to nothing.
func applyKeywords(raw json.RawMessage, d *auction.Device) {
	if len(raw) == 0 {
		return
	}
	var tree struct {
		User   laxjson.Object[map[string]json.RawMessage] `json:"user"`
		Device laxjson.Object[map[string]json.RawMessage] `json:"device"`
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
}
