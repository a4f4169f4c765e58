package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// bodyPool recycles /bid body buffers (a body is a few kB; a buffer a huge
// one grew is not kept).
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads a request body into a pooled buffer; release returns the
// buffer, after which body must not be used. ParseBidCall's result never
// refers to its input, so the body can go back right after parsing.
func readBody(r io.Reader) (body []byte, release func(), err error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	release = func() {
		if buf.Cap() <= 64<<10 {
			bodyPool.Put(buf)
		}
	}
	if _, err := buf.ReadFrom(r); err != nil {
		release()
		return nil, func() {}, err
	}
	return buf.Bytes(), release, nil
}

// maxSlots bounds the slots of one /bid call: a page has a handful.
const maxSlots = 100

// BidCall is one parsed POST /bid body (ADSERVER-BRIDGE §8): the context,
// already in the auction's terms, and the slots as the AdServer named them.
type BidCall struct {
	Site   auction.Site
	Device auction.Device
	User   auction.User
	Slots  []SlotRequest
}

// SlotRequest is one entry of requests.
type SlotRequest struct {
	RequestID  string
	CreativeID string
	Mimes      []string
	TopFrame   *bool
}

type wireCall struct {
	Context  laxjson.Object[wireContext] `json:"context"`
	Requests json.RawMessage             `json:"requests"`
}

type wireContext struct {
	Site   laxjson.Object[wireSite]   `json:"site"`
	Device laxjson.Object[wireDevice] `json:"device"`
	User   laxjson.Object[wireUser]   `json:"user"`
}

type wireSite struct {
	Domain   laxjson.String `json:"domain"`
	Page     laxjson.String `json:"page"`
	Referrer laxjson.String `json:"referrer"`
	// Read leniently (see optionalStrings): a field the auction can do
	// without never costs the call.
	Keywords json.RawMessage `json:"keywords"` // legacy path only
	InFrame  json.RawMessage `json:"inframe"`  // "yes", "no" or null
}

type wireDevice struct {
	IP      laxjson.String                             `json:"ip"`
	Headers laxjson.Object[map[string]laxjson.Strings] `json:"headers"`
}

type wireUser struct {
	UID      laxjson.String  `json:"uid"`
	Keywords json.RawMessage `json:"keywords"`
}

type wireSlot struct {
	RequestID  json.RawMessage `json:"request_id"`
	CreativeID laxjson.String  `json:"creative_id"`
	Mimes      laxjson.Strings `json:"mimes"`
	TopFrame   laxjson.Bool    `json:"topframe"`
}

func boolPtr(b bool) *bool { return &b }

// optionalStrings reads a list of strings (or one string); any other shape
// reads as none.
func optionalStrings(raw json.RawMessage) []string {
	var l laxjson.Strings
	if len(raw) == 0 || l.UnmarshalJSON(raw) != nil {
		return nil
	}
	return l
}

// errBadCall marks a body the AdServer should not have sent; the handler
// answers 400 with its text.
var errBadCall = errors.New("bad /bid body")

func badCall(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadCall, fmt.Sprintf(format, args...))
}

// ParseBidCall decodes a /bid body, accepting every form PHP produces.
// Errors wrap errBadCall and say what was wrong. The body is read in one
// pass (fastBidCall); a body that pass does not take (malformed, or a
// shape it leaves alone) goes through the encoding/json decoder, which
// also words every error.
func ParseBidCall(body []byte) (*BidCall, error) {
	if c, ok := fastBidCall(body); ok {
		return c, nil
	}
	return parseBidCallStd(body)
}

// parseBidCallStd is the reference decoder: encoding/json through the
// laxjson types. fastBidCall must give exactly its result.
func parseBidCallStd(body []byte) (*BidCall, error) {
	var w wireCall
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, badCall("%s", laxjson.Problem(err))
	}
	if len(bytes.TrimSpace(w.Requests)) == 0 || string(bytes.TrimSpace(w.Requests)) == "null" {
		return nil, badCall("requests is missing")
	}
	ctx := w.Context.V
	c := &BidCall{
		Site: auction.Site{Domain: string(ctx.Site.V.Domain), Page: string(ctx.Site.V.Page), Referrer: string(ctx.Site.V.Referrer),
			Keywords: optionalStrings(ctx.Site.V.Keywords)},
		User: auction.User{ID: string(ctx.User.V.UID)},
	}
	switch strings.ToLower(laxjson.FirstString(ctx.Site.V.InFrame)) {
	case "yes":
		c.Site.InFrame = boolPtr(true)
	case "no":
		c.Site.InFrame = boolPtr(false)
	}
	c.Device.IP = strings.TrimSpace(string(ctx.Device.V.IP))
	for name, vals := range ctx.Device.V.Headers.V {
		if len(vals) == 0 {
			continue
		}
		// headers.referer is the page again (site.page says it): unused.
		switch {
		case strings.EqualFold(name, "user-agent"):
			c.Device.UserAgent = vals[0]
		case strings.EqualFold(name, "dnt") && (vals[0] == "1" || vals[0] == "0"):
			c.Device.DNT = boolPtr(vals[0] == "1")
		}
	}
	ua := parseUserAgent(c.Device.UserAgent)
	c.Device.OS, c.Device.OSV, c.Device.Make, c.Device.Model = ua.os, ua.osv, ua.make, ua.model
	if kw := bytes.TrimSpace(ctx.User.V.Keywords); len(kw) > 0 && !laxjson.IsEmpty(kw) {
		if kw[0] != '{' {
			return nil, badCall("context.user.keywords: want an object, got %s", laxjson.Kind(kw))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, kw); err == nil {
			c.User.Keywords = buf.Bytes()
		}
		applyKeywords(c.User.Keywords, &c.Site, &c.Device, &c.User)
	}
	seen := map[string]bool{}
	err := laxjson.EachValue(w.Requests, func(raw json.RawMessage) error {
		var s wireSlot
		if err := json.Unmarshal(raw, &s); err != nil {
			return badCall("requests[%d]: %s", len(c.Slots), laxjson.Problem(err))
		}
		var id string
		if rid := bytes.TrimSpace(s.RequestID); len(rid) == 0 || string(rid) == "null" {
			return badCall("requests[%d]: request_id is missing", len(c.Slots))
		} else if rid[0] != '"' || json.Unmarshal(rid, &id) != nil {
			// The answer must echo it as the same string, so a number is
			// refused rather than guessed.
			return badCall("requests[%d]: request_id must be a string, got %s", len(c.Slots), laxjson.Kind(rid))
		}
		if id == "" {
			return badCall("requests[%d]: request_id is empty", len(c.Slots))
		}
		if seen[id] {
			return nil // at most one answer per request_id: keep the first
		}
		seen[id] = true
		slot := SlotRequest{RequestID: id, CreativeID: string(s.CreativeID), Mimes: s.Mimes}
		if s.TopFrame.Set {
			v := s.TopFrame.V
			slot.TopFrame = &v
		}
		c.Slots = append(c.Slots, slot)
		if len(c.Slots) > maxSlots {
			return badCall("more than %d requests", maxSlots)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errBadCall) {
			err = badCall("requests: %s", laxjson.Problem(err))
		}
		return nil, err
	}
	return c, nil
}
