package bridge

import (
	"net/http"

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
	return &Info{doc: map[string]any{
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
}

func (h *Info) serve(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, h.doc)
}
