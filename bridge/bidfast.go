package bridge

import (
	"strings"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// fastBidCall reads a /bid body in one pass over its bytes, with the same
// tolerances as parseBidCallStd (the laxjson types) and the same result.
// ok is false for any body it does not read exactly that way (malformed
// JSON, a field of the wrong type, a duplicate or differently cased key,
// two user-agent headers, ...): ParseBidCall then hands the body to
// parseBidCallStd, which decides and words the error. FuzzFastBidCall
// checks the two agree.
func fastBidCall(body []byte) (*BidCall, bool) {
	i := laxjson.WS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	var x fastContext
	reqStart, reqEnd := -1, -1
	var seen uint8
	end, ok := laxjson.EachMember(body, i, func(key []byte, j int) (int, bool) {
		switch string(key) {
		case "context":
			if !first(&seen, 1) {
				return j, false
			}
			return x.read(body, j)
		case "requests":
			if !first(&seen, 2) {
				return j, false
			}
			e, ok := laxjson.SkipValue(body, j)
			reqStart, reqEnd = j, e
			return e, ok
		}
		return skipOther(body, key, j, callKeys)
	})
	if !ok || !laxjson.End(body, end) || reqStart < 0 || (body[reqStart] != '[' && body[reqStart] != '{') {
		return nil, false
	}
	// The call and its first slot in one allocation (most calls have one).
	box := &callBox{call: BidCall{
		Site:   auction.Site{Domain: x.domain, Page: x.page, Referrer: x.referrer, Keywords: x.siteKeywords},
		Device: auction.Device{IP: strings.TrimSpace(x.ip), UserAgent: x.ua, DNT: x.dnt},
		User:   auction.User{ID: x.uid},
	}}
	c := &box.call
	switch strings.ToLower(x.inframe) {
	case "yes":
		c.Site.InFrame = boolPtr(true)
	case "no":
		c.Site.InFrame = boolPtr(false)
	}
	ua := parseUserAgent(c.Device.UserAgent)
	c.Device.OS, c.Device.OSV, c.Device.Make, c.Device.Model = ua.os, ua.osv, ua.make, ua.model
	if x.keywords != nil {
		c.User.Keywords = compact(x.keywords)
		if k, ok := fastKeywordTree(c.User.Keywords); ok {
			k.apply(fastLax, &c.Site, &c.Device, &c.User)
		} else {
			applyKeywords(c.User.Keywords, &c.Site, &c.Device, &c.User)
		}
	}
	if !fastSlots(body[:reqEnd], reqStart, c, &box.slot) {
		return nil, false
	}
	return c, true
}

var (
	callKeys = []string{"context", "requests"}
	slotKeys = []string{"request_id", "creative_id", "mimes", "topframe"}
)

// first marks bit in seen and reports whether it was clear: a key seen
// twice is left to encoding/json (whose "last one wins" has corners, such
// as `[]` keeping the earlier object).
func first(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// skipOther skips the value of a key that is no field of the struct, unless
// encoding/json might take it for one (laxjson.LooseKey).
func skipOther(b, key []byte, i int, names []string) (int, bool) {
	if laxjson.LooseKey(key, names) {
		return i, false
	}
	return laxjson.SkipValue(b, i)
}

// object reads an Object[V] at b[i] with member reading each member; an
// empty one (null, []) reads as nothing.
func object(b []byte, i int, member func(key []byte, j int) (int, bool)) (int, bool) {
	empty, end, ok := laxjson.EmptyOrObject(b, i)
	if !ok || empty {
		return end, ok
	}
	return laxjson.EachMember(b, i, member)
}

// callBox is a BidCall with the backing array of its first slot.
type callBox struct {
	call BidCall
	slot [1]SlotRequest
}

// fastSlots reads the requests list at b[i] (an array, or an object of
// index keys) into c.Slots, as parseBidCallStd does: the first of each
// request_id kept, at most maxSlots. The first slot goes into first (capped:
// a second is appended to a copy), and no slot leaves Slots nil.
func fastSlots(b []byte, i int, c *BidCall, first *[1]SlotRequest) bool {
	end, ok := laxjson.EachValueAt(b, i, func(j int) (int, bool) {
		s, end, ok := fastSlot(b, j)
		if !ok {
			return end, false
		}
		for _, prev := range c.Slots {
			if prev.RequestID == s.RequestID {
				return end, true // at most one answer per request_id: keep the first
			}
		}
		if len(c.Slots) >= maxSlots {
			return end, false
		}
		if c.Slots == nil {
			c.Slots = first[:0:1]
		}
		c.Slots = append(c.Slots, s)
		return end, true
	})
	return ok && end == len(b)
}

// fastSlot reads one entry of requests; ok is false for anything but an
// object with a non-empty string request_id.
func fastSlot(b []byte, i int) (SlotRequest, int, bool) {
	var s SlotRequest
	if i >= len(b) || b[i] != '{' {
		return s, i, false
	}
	var seen uint8
	var tf laxjson.Bool
	end, ok := laxjson.EachMember(b, i, func(key []byte, j int) (int, bool) {
		var end int
		var ok bool
		switch string(key) {
		case "request_id":
			if !first(&seen, 1) || j >= len(b) || b[j] != '"' {
				return j, false // a number is refused, not guessed
			}
			s.RequestID, end, ok = laxjson.ReadString(b, j)
			return end, ok && s.RequestID != ""
		case "creative_id":
			if !first(&seen, 2) {
				return j, false
			}
			s.CreativeID, end, ok = laxjson.LaxString(b, j)
			return end, ok
		case "mimes":
			if !first(&seen, 4) {
				return j, false
			}
			s.Mimes, end, ok = laxjson.LaxStrings(b, j)
			return end, ok
		case "topframe":
			if !first(&seen, 8) {
				return j, false
			}
			tf, end, ok = laxjson.LaxBool(b, j)
			return end, ok
		}
		return skipOther(b, key, j, slotKeys)
	})
	if tf.Set {
		v := tf.V
		s.TopFrame = &v
	}
	return s, end, ok && seen&1 != 0
}
