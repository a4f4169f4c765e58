package inventory

import (
	"encoding/json"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
)

// Campaign is one entry of the /inventory answer (ADSERVER-BRIDGE §7.1). The
// field order follows the spec so the document reads like its example.
type Campaign struct {
	ID                string          `json:"id"`
	LandingURL        string          `json:"landing_url"`
	DateStart         string          `json:"date_start"`
	DateEnd           *string         `json:"date_end"`
	CreatedAt         string          `json:"created_at"`
	UpdatedAt         string          `json:"updated_at"`
	Medium            string          `json:"medium"`
	Vendor            *string         `json:"vendor"`
	MaxCPC            int64           `json:"max_cpc"`
	MaxCPM            int64           `json:"max_cpm"`
	Budget            int64           `json:"budget"`
	Creatives         []CreativeDoc   `json:"creatives"`
	TargetingRequires json.RawMessage `json:"targeting_requires"`
	TargetingExcludes json.RawMessage `json:"targeting_excludes"`
}

// CreativeDoc is one creative of a campaign (ADSERVER-BRIDGE §7.2).
type CreativeDoc struct {
	ID             string                    `json:"id"`
	Type           string                    `json:"type"`
	Mime           string                    `json:"mime"`
	Size           string                    `json:"size"`
	Checksum       string                    `json:"checksum"`
	ServeURL       string                    `json:"serve_url"`
	ClickURL       string                    `json:"click_url"`
	ViewURL        string                    `json:"view_url"`
	Classification map[string]Classification `json:"classification"`
}

// Classification is the required classifier's entry of a creative.
type Classification struct {
	Keywords map[string][]string `json:"keywords"`
	SignedAt string              `json:"signed_at"`
}

// Document builds the /inventory answer from config and the remembered
// times. It is computed once at start: the inventory only changes with the
// config, which needs a restart.
func Document(cfg *config.Config, t Times) []Campaign {
	keywords := cfg.Inventory.Keywords
	if keywords == nil {
		keywords = map[string][]string{}
	}
	out := make([]Campaign, 0, len(cfg.Inventory.Campaigns))
	for _, cp := range cfg.Inventory.Campaigns {
		ct, ok := t.Campaigns[cp.ID]
		if !ok {
			ct = CampaignTimes{Created: t.FirstStart, Updated: t.FirstStart}
		}
		start := cp.DateStart
		if start == "" {
			start = ads.FormatATOM(t.FirstStart)
		}
		var end *string
		if cp.DateEnd != "" {
			e := cp.DateEnd
			end = &e
		}
		signed := ads.FormatATOM(ct.Updated)
		c := Campaign{
			ID: cp.ID, LandingURL: cp.LandingURL, DateStart: start, DateEnd: end,
			CreatedAt: ads.FormatATOM(ct.Created), UpdatedAt: signed,
			Medium: "web", MaxCPC: 0, MaxCPM: cp.MaxCPM, Budget: cp.Budget,
			Creatives:         make([]CreativeDoc, 0, len(cp.Creatives)),
			TargetingRequires: json.RawMessage(`{}`), TargetingExcludes: json.RawMessage(`{}`),
		}
		for _, cr := range cp.Creatives {
			c.Creatives = append(c.Creatives, CreativeDoc{
				ID: cr.ID, Type: cr.Type, Mime: cr.Mime, Size: cr.Size, Checksum: "",
				ServeURL: PlaceholderURL(cfg, cr.ID), ClickURL: ClickURL(cfg), ViewURL: ViewURL(cfg),
				Classification: map[string]Classification{
					cfg.Inventory.Classifier: {Keywords: keywords, SignedAt: signed},
				},
			})
		}
		out = append(out, c)
	}
	return out
}
