package bridge

import (
	"encoding/json"
	"net/http"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/httpapi"
)

// Info serves GET /info.json, the registration document (ADSERVER-BRIDGE §6).
type Info struct {
	doc map[string]any
}

// NewInfo builds the document once: it only depends on config.
func NewInfo(cfg *config.Config, version string) *Info {
	b := cfg.BaseURL
	info := &Info{doc: map[string]any{
		"module":           "dsp-bridge",
		"name":             "Adshares DSP bridge",
		"version":          version,
		"capabilities":     []string{"ADV"},
		"serverUrl":        b,
		"panelUrl":         b,
		"landingUrl":       b,
		"privacyUrl":       b + "/privacy",
		"termsUrl":         b + "/terms",
		"inventoryUrl":     b + "/inventory",
		"adsAddress":       cfg.Adshares.Address,
		"registrationMode": "private",
		"mode":             "operational",
		"adsTxtRequired":   false,
	}}
	// demandFee is the share a demand server keeps of what it is paid: the
	// AdServer stores it and applies nothing to bridge payments, so the fee
	// is taken once, here (money.fee), and only announced.
	if f := cfg.Money.FeePPM(); f > 0 {
		info.doc["demandFee"] = json.Number(ads.FormatPPM(f))
	}
	return info
}

// Document is the registration document as it is served.
func (h *Info) Document() map[string]any { return h.doc }

func (h *Info) serve(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, h.doc)
}
