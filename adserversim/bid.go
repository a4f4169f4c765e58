package adserversim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Impression is the AdServer's impression context sent in /bid (§8.1).
type Impression struct {
	Site   Site
	Device Device
	User   User
}

// Site is context.site.
type Site struct {
	Domain   string
	Inframe  string // "yes", "no", or "" for null (the POST /supply/find path)
	Page     string
	Referrer string
	Popup    string
	Keywords []string // legacy path only; nil leaves the key out
}

// Device is context.device.
type Device struct {
	IP        string // IPv4 or IPv6, as the AdServer sees the client
	Referer   string // "" is sent as [null]
	UserAgent string // "" is sent as [null]
	Metamask  any    // 0 or 1; the legacy path may send 1.0
}

// User is context.user, the AdUser result.
type User struct {
	UID      string // 32 hex or ""
	Keywords any    // opaque AdUser tree (Obj or map[string]any); nil or empty is sent as []
}

// Slot is one entry of requests: a bridge creative AdSelect picked.
type Slot struct {
	Position   int      // index among the found banners; request_id is its decimal form
	CreativeID string   // from the imported inventory
	Mimes      []string // nil: the placement did not limit mimes
	Topframe   *bool    // nil: the placement did not say
}

// RequestID is the slot's request_id: its position as a decimal string.
func (s Slot) RequestID() string { return strconv.Itoa(s.Position) }

// Win is a slot the bridge filled with a valid entry.
type Win struct {
	Slot     Slot
	Creative Creative
	ExtID    string
	ServeURL string
}

// BidResult is one /bid exchange.
type BidResult struct {
	Body    []byte // the request body sent
	Status  int
	Answer  []byte
	Latency time.Duration
	Wins    []Win // empty when the answer was rejected
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// BidBody encodes a /bid body as the AdServer does (§4.1, §8): PHP
// json_encode, requests as a JSON array when the positions are exactly
// 0..n-1 in order and as an object with string keys otherwise, and [] for
// every empty object.
func BidBody(imp Impression, slots []Slot) ([]byte, error) {
	site := Obj{{"domain", imp.Site.Domain}, {"inframe", nullable(imp.Site.Inframe)}, {"page", imp.Site.Page}}
	if imp.Site.Keywords != nil {
		site = append(site, KV{"keywords", imp.Site.Keywords})
	}
	site = append(site, KV{"referrer", imp.Site.Referrer}, KV{"popup", imp.Site.Popup})
	metamask := imp.Device.Metamask
	if metamask == nil {
		metamask = 0
	}
	device := Obj{
		{"ip", imp.Device.IP},
		{"headers", Obj{
			{"referer", []any{nullable(imp.Device.Referer)}},
			{"user-agent", []any{nullable(imp.Device.UserAgent)}},
		}},
		{"extensions", Obj{{"metamask", metamask}}},
	}
	keywords := imp.User.Keywords
	if keywords == nil {
		keywords = Obj{}
	}
	user := Obj{{"uid", imp.User.UID}, {"keywords", keywords}}
	requests := Obj{}
	seen := map[int]bool{}
	for _, s := range slots {
		if seen[s.Position] || s.Position < 0 {
			return nil, fmt.Errorf("adserversim: slot position %d repeated or negative", s.Position)
		}
		seen[s.Position] = true
		r := Obj{}
		if s.Mimes != nil {
			r = append(r, KV{"mimes", s.Mimes})
		}
		if s.Topframe != nil {
			r = append(r, KV{"topframe", *s.Topframe})
		}
		r = append(r, KV{"request_id", s.RequestID()}, KV{"creative_id", s.CreativeID})
		requests = append(requests, KV{s.RequestID(), r})
	}
	return phpJSON(Obj{
		{"context", Obj{{"site", site}, {"device", device}, {"user", user}}},
		{"requests", requests},
	})
}

// Bid sends one POST B/bid for the bridge slots of a /supply/find call and
// applies the AdServer's all-or-nothing check (§8.4). When the answer is
// rejected the error says why, and the result (without wins) still shows
// what was exchanged. Every slot must name an imported creative, since
// AdSelect only picks those.
func (c *Client) Bid(ctx context.Context, imp Impression, slots []Slot) (*BidResult, error) {
	sent := make([]string, len(slots))
	bySlot := map[string]Slot{}
	for i, s := range slots {
		if _, ok := c.creative(s.CreativeID); !ok {
			return nil, fmt.Errorf("adserversim: creative %s was not imported", s.CreativeID)
		}
		sent[i] = s.RequestID()
		bySlot[sent[i]] = s
	}
	body, err := BidBody(imp, slots)
	if err != nil {
		return nil, err
	}
	res := &BidResult{Body: body}
	resp, err := c.call(ctx, http.MethodPost, c.BaseURL+"/bid", body, jsonHeaders(), laravelTimeout)
	if err != nil {
		return res, fmt.Errorf("bid: %w", err)
	}
	res.Status, res.Answer, res.Latency = resp.status, resp.body, resp.latency
	entries, err := parseBidResponse(resp.status, resp.body, sent)
	if err != nil {
		return res, err
	}
	for _, e := range entries {
		s := bySlot[e.RequestID]
		cr, _ := c.creative(s.CreativeID)
		res.Wins = append(res.Wins, Win{Slot: s, Creative: cr, ExtID: e.ExtID, ServeURL: e.ServeURL})
	}
	return res, nil
}
