package auction

import (
	"encoding/json"
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"

	"github.com/adshares/dsp-bridge/inventory"
)

// Request is what one auction sells: the slots of one page view and the
// context they are shown in. The AdServer-facing server fills it from the
// PHP-shaped /bid body; the auction knows nothing of that shape.
type Request struct {
	Site   Site   `json:"site"`
	Device Device `json:"device"`
	User   User   `json:"user"`
	Slots  []Slot `json:"slots"`
}

// Site is the page the slots are on.
type Site struct {
	Domain   string `json:"domain,omitempty"`
	Page     string `json:"page,omitempty"`
	Referrer string `json:"referrer,omitempty"`
	// Keywords are the page's keywords (the AdServer's legacy path).
	Keywords []string `json:"keywords,omitempty"`
	// InFrame is whether the page said the slots are in an iframe; nil
	// when it did not (the current AdServer path sends null).
	InFrame *bool `json:"inframe,omitempty"`
	// Categories are the AdUser site categories (its taxonomy: news,
	// games, crypto, ...), mapped to IAB categories by the auction.
	Categories []string `json:"categories,omitempty"`
}

// Device is the visitor's browser, with what the AdUser keywords say of it.
type Device struct {
	IP        string `json:"ip,omitempty"` // IPv4 or IPv6, as the AdServer saw the client
	UserAgent string `json:"ua,omitempty"`
	// Language is ISO-639-1, Country ISO-3166-1 alpha-3 (OpenRTB's forms).
	Language string            `json:"language,omitempty"`
	Country  string            `json:"country,omitempty"`
	Type     adcom1.DeviceType `json:"devicetype,omitempty"`
	// OS, OSV, Make and Model are what the user agent (or, for OS, the
	// AdUser keywords) says, in OpenRTB's free-text forms ("iOS", "17.4").
	OS    string `json:"os,omitempty"`
	OSV   string `json:"osv,omitempty"`
	Make  string `json:"make,omitempty"`
	Model string `json:"model,omitempty"`
	// Browser is the AdUser browser family (chrome, firefox, ...).
	Browser string `json:"browser,omitempty"`
	// DNT is the browser's Do-Not-Track header, when it sent one.
	DNT *bool `json:"dnt,omitempty"`
	// Crawler is AdUser's verdict that the client is a bot.
	Crawler bool `json:"crawler,omitempty"`
}

// User is the visitor as the AdUser knows them.
type User struct {
	ID string `json:"id,omitempty"` // AdUser uid; may be empty
	// Keywords is the AdUser keyword tree, compact JSON, passed to DSPs
	// untouched (DECISIONS §3).
	Keywords json.RawMessage `json:"keywords,omitempty"`
	// HumanScore is AdUser's estimate (0..1) that the visitor is a person;
	// nil when AdUser gave none.
	HumanScore *float64 `json:"human_score,omitempty"`
}

// Slot is one ad slot: the AdServer's request id (echoed as imp.id) and
// the inventory creative whose type, mime and size the slot has.
type Slot struct {
	ID       string              `json:"id"`
	Creative *inventory.Creative `json:"-"`
	// CreativeID names Creative in fixtures; the auction reads Creative.
	CreativeID string   `json:"creative_id,omitempty"`
	Mimes      []string `json:"mimes,omitempty"`    // the placement's accepted mimes, if it limited them
	TopFrame   *bool    `json:"topframe,omitempty"` // nil when the placement did not say
}

// securePage reports whether the ad goes on an https page, where the
// browser blocks an http serve_url (mixed content).
func (r *Request) securePage() bool {
	return strings.HasPrefix(strings.ToLower(r.Site.Page), "https:")
}
