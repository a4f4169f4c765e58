package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxSlots bounds the slots of one /bid call: a page has a handful.
const maxSlots = 100

// BidCall is one parsed POST /bid body (ADSERVER-BRIDGE §8).
type BidCall struct {
	Site   SiteContext
	Device DeviceContext
	User   UserContext
	Slots  []SlotRequest
}

// SiteContext is context.site.
type SiteContext struct {
	Domain, Page, Referrer string
}

// DeviceContext is context.device.
type DeviceContext struct {
	IP, UserAgent, Referer string
}

// UserContext is context.user; Keywords stays opaque JSON (DECISIONS §3).
type UserContext struct {
	UID      string
	Keywords json.RawMessage
}

// SlotRequest is one entry of requests.
type SlotRequest struct {
	RequestID  string
	CreativeID string
	Mimes      []string
	TopFrame   *bool
}

type wireCall struct {
	Context  phpObject[wireContext] `json:"context"`
	Requests json.RawMessage        `json:"requests"`
}

type wireContext struct {
	Site   phpObject[wireSite]   `json:"site"`
	Device phpObject[wireDevice] `json:"device"`
	User   phpObject[wireUser]   `json:"user"`
}

type wireSite struct {
	Domain   phpString `json:"domain"`
	Page     phpString `json:"page"`
	Referrer phpString `json:"referrer"`
}

type wireDevice struct {
	IP      phpString                        `json:"ip"`
	Headers phpObject[map[string]phpStrings] `json:"headers"`
}

type wireUser struct {
	UID      phpString       `json:"uid"`
	Keywords json.RawMessage `json:"keywords"`
}

type wireSlot struct {
	RequestID  json.RawMessage `json:"request_id"`
	CreativeID phpString       `json:"creative_id"`
	Mimes      phpStrings      `json:"mimes"`
	TopFrame   phpBool         `json:"topframe"`
}

// errBadCall marks a body the AdServer should not have sent; the handler
// answers 400 with its text.
var errBadCall = errors.New("bad /bid body")

func badCall(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadCall, fmt.Sprintf(format, args...))
}

// ParseBidCall decodes a /bid body, accepting every form PHP produces.
// Errors wrap errBadCall and say what was wrong.
func ParseBidCall(body []byte) (*BidCall, error) {
	var w wireCall
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, badCall("%s", jsonProblem(err))
	}
	if len(bytes.TrimSpace(w.Requests)) == 0 || string(bytes.TrimSpace(w.Requests)) == "null" {
		return nil, badCall("requests is missing")
	}
	ctx := w.Context.V
	c := &BidCall{
		Site: SiteContext{Domain: string(ctx.Site.V.Domain), Page: string(ctx.Site.V.Page), Referrer: string(ctx.Site.V.Referrer)},
		User: UserContext{UID: string(ctx.User.V.UID)},
	}
	c.Device.IP = strings.TrimSpace(string(ctx.Device.V.IP))
	for name, vals := range ctx.Device.V.Headers.V {
		if len(vals) == 0 {
			continue
		}
		switch strings.ToLower(name) {
		case "user-agent":
			c.Device.UserAgent = vals[0]
		case "referer":
			c.Device.Referer = vals[0]
		}
	}
	if kw := bytes.TrimSpace(ctx.User.V.Keywords); len(kw) > 0 && !isEmptyPHP(kw) {
		if kw[0] != '{' {
			return nil, badCall("context.user.keywords: want an object, got %s", kindOf(kw))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, kw); err == nil {
			c.User.Keywords = buf.Bytes()
		}
	}
	seen := map[string]bool{}
	err := eachValue(w.Requests, func(raw json.RawMessage) error {
		var s wireSlot
		if err := json.Unmarshal(raw, &s); err != nil {
			return badCall("requests[%d]: %s", len(c.Slots), jsonProblem(err))
		}
		var id string
		if rid := bytes.TrimSpace(s.RequestID); len(rid) == 0 || string(rid) == "null" {
			return badCall("requests[%d]: request_id is missing", len(c.Slots))
		} else if rid[0] != '"' || json.Unmarshal(rid, &id) != nil {
			// The answer must echo it as the same string, so a number is
			// refused rather than guessed.
			return badCall("requests[%d]: request_id must be a string, got %s", len(c.Slots), kindOf(rid))
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
			err = badCall("requests: %s", jsonProblem(err))
		}
		return nil, err
	}
	return c, nil
}

// jsonProblem turns a decoding error into a short reason for the caller.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			// "plain." is the embedded alias of a lenient UnmarshalJSON.
			return fmt.Sprintf("%s: want %s, got %s", strings.ReplaceAll(typ.Field, "plain.", ""), typ.Type, typ.Value)
		}
		return fmt.Sprintf("want %s, got %s", typ.Type, typ.Value)
	}
	return err.Error()
}
