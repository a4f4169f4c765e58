// Package inventory builds what the bridge offers the AdServer: the
// /inventory document (campaigns and creatives from config) and the creative
// catalog the auction uses to turn a creative_id into a slot shape.
package inventory

import (
	"fmt"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/config"
)

// Creative is one slot shape the DSPs can fill, as the auction needs it.
type Creative struct {
	ID         string
	CampaignID string
	Type       string // image or video
	Mime       string
	Size       string // WxH
	W, H       int64
}

// Catalog finds creatives by id. It is read-only after New, so lookups need
// no lock.
type Catalog struct {
	byID map[string]*Creative
}

// Lookup returns the creative with the given id.
func (c *Catalog) Lookup(id string) (*Creative, bool) {
	cr, ok := c.byID[id]
	return cr, ok
}

// Len is the number of creatives.
func (c *Catalog) Len() int { return len(c.byID) }

// NewCatalog indexes every configured creative. It fails on what the
// AdServer would choke on, so a bad config stops the bridge at start rather
// than aborting the AdServer's whole import later.
func NewCatalog(cfg *config.Config) (*Catalog, error) {
	if problems := cfg.InventoryProblems(); len(problems) > 0 {
		return nil, fmt.Errorf("inventory: %s", strings.Join(problems, "; "))
	}
	c := &Catalog{byID: map[string]*Creative{}}
	for _, cp := range cfg.Inventory.Campaigns {
		for _, cr := range cp.Creatives {
			w, h, _ := config.ParseSize(cr.Size)
			c.byID[cr.ID] = &Creative{ID: cr.ID, CampaignID: cp.ID, Type: cr.Type, Mime: cr.Mime, Size: cr.Size, W: w, H: h}
		}
	}
	return c, nil
}

// ViewURL is the view_url of every creative: the bridge's own /view.
func ViewURL(cfg *config.Config) string { return cfg.BaseURL + "/view" }

// ClickURL is the click_url of every creative: the bridge's own /click.
func ClickURL(cfg *config.Config) string { return cfg.BaseURL + "/click" }

// PlaceholderURL is a creative's inventory serve_url. The AdServer never
// shows it for bridge slots (/bid replaces it) but requires it to be valid,
// so it points at a transparent image the bridge serves.
func PlaceholderURL(cfg *config.Config, creativeID string) string {
	return cfg.BaseURL + "/placeholder/" + creativeID
}

// Times are the remembered dates of the inventory: the bridge's first start
// (default date_start) and, per campaign, when it first appeared and last
// changed (created_at, updated_at and the classification's signed_at).
type Times struct {
	FirstStart time.Time
	Campaigns  map[string]CampaignTimes
}

// CampaignTimes are one campaign's creation and last change.
type CampaignTimes struct {
	Created, Updated time.Time
}
