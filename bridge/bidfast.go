package bridge

import (
	"encoding/json"
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
	callKeys    = []string{"context", "requests"}
	contextKeys = []string{"site", "device", "user"}
	siteKeys    = []string{"domain", "page", "referrer", "keywords", "inframe"}
	deviceKeys  = []string{"ip", "headers"}
	userKeys    = []string{"uid", "keywords"}
	slotKeys    = []string{"request_id", "creative_id", "mimes", "topframe"}
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

// fastContext is what fastBidCall takes from context.
type fastContext struct {
	domain, page, referrer string
	siteKeywords           []string
	inframe                string // FirstString of site.inframe
	ip, ua                 string
	dnt                    *bool
	headerSeen             uint8
	uid                    string
	keywords               []byte // user.keywords when an object, else nil
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

func (x *fastContext) read(b []byte, i int) (int, bool) {
	var seen uint8
	return object(b, i, func(key []byte, j int) (int, bool) {
		switch string(key) {
		case "site":
			if !first(&seen, 1) {
				return j, false
			}
			return x.readSite(b, j)
		case "device":
			if !first(&seen, 2) {
				return j, false
			}
			return x.readDevice(b, j)
		case "user":
			if !first(&seen, 4) {
				return j, false
			}
			return x.readUser(b, j)
		}
		return skipOther(b, key, j, contextKeys)
	})
}

func (x *fastContext) readSite(b []byte, i int) (int, bool) {
	var seen uint8
	return object(b, i, func(key []byte, j int) (int, bool) {
		switch string(key) {
		case "domain":
			if !first(&seen, 1) {
				return j, false
			}
			s, end, ok := laxjson.LaxString(b, j)
			x.domain = s
			return end, ok
		case "page":
			if !first(&seen, 2) {
				return j, false
			}
			s, end, ok := laxjson.LaxString(b, j)
			x.page = s
			return end, ok
		case "referrer":
			if !first(&seen, 4) {
				return j, false
			}
			s, end, ok := laxjson.LaxString(b, j)
			x.referrer = s
			return end, ok
		case "keywords", "inframe":
			bit := uint8(8)
			if key[0] == 'i' {
				bit = 16
			}
			if !first(&seen, bit) {
				return j, false
			}
			// Read leniently, as optionalStrings and FirstString do: a
			// valid value of another shape reads as none.
			end, ok := laxjson.SkipValue(b, j)
			if !ok {
				return end, false
			}
			l, _, lok := laxjson.LaxStrings(b[:end], j)
			if !lok {
				l = nil
			}
			if bit == 8 {
				x.siteKeywords = l
			} else if len(l) > 0 {
				x.inframe = strings.TrimSpace(l[0])
			}
			return end, true
		}
		return skipOther(b, key, j, siteKeys)
	})
}

func (x *fastContext) readDevice(b []byte, i int) (int, bool) {
	var seen uint8
	return object(b, i, func(key []byte, j int) (int, bool) {
		switch string(key) {
		case "ip":
			if !first(&seen, 1) {
				return j, false
			}
			s, end, ok := laxjson.LaxString(b, j)
			x.ip = s
			return end, ok
		case "headers":
			if !first(&seen, 2) {
				return j, false
			}
			return object(b, j, x.header(b))
		}
		return skipOther(b, key, j, deviceKeys)
	})
}

// header reads one member of device.headers. The reference decoder reads
// them into a map and ranges over it, so two user-agent (or dnt) keys
// would give a random one: those bodies are left to it.
func (x *fastContext) header(b []byte) func(key []byte, j int) (int, bool) {
	return func(key []byte, j int) (int, bool) {
		vals, end, ok := laxjson.LaxStrings(b, j)
		if !ok {
			return end, false
		}
		switch {
		case strings.EqualFold(string(key), "user-agent"):
			if !first(&x.headerSeen, 1) {
				return j, false
			}
			if len(vals) > 0 {
				x.ua = vals[0]
			}
		case strings.EqualFold(string(key), "dnt"):
			if !first(&x.headerSeen, 2) {
				return j, false
			}
			if len(vals) > 0 && (vals[0] == "1" || vals[0] == "0") {
				x.dnt = boolPtr(vals[0] == "1")
			}
		}
		return end, true
	}
}

func (x *fastContext) readUser(b []byte, i int) (int, bool) {
	var seen uint8
	return object(b, i, func(key []byte, j int) (int, bool) {
		switch string(key) {
		case "uid":
			if !first(&seen, 1) {
				return j, false
			}
			s, end, ok := laxjson.LaxString(b, j)
			x.uid = s
			return end, ok
		case "keywords":
			if !first(&seen, 2) {
				return j, false
			}
			empty, end, ok := laxjson.EmptyOrObject(b, j)
			if !ok || empty {
				return end, ok // not an object: the reference decoder's error
			}
			end, ok = laxjson.SkipValue(b, j)
			x.keywords = b[j:end]
			return end, ok
		}
		return skipOther(b, key, j, userKeys)
	})
}

// compact copies valid JSON without the whitespace between tokens, as
// json.Compact does.
func compact(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ' ', '\t', '\n', '\r':
		case '"':
			end, _ := laxjson.SkipString(v, i)
			out = append(out, v[i:end]...)
			i = end - 1
		default:
			out = append(out, c)
		}
	}
	return out
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

// fastKeywordTree reads what applyKeywords uses of the keyword tree (valid,
// compact JSON that fastBidCall has checked), as applyKeywords reads it.
// ok is false for a tree it does not read that way; the caller then uses
// applyKeywords itself.
func fastKeywordTree(raw []byte) (keywordTree, bool) {
	var k keywordTree
	var seen uint8
	section := func(j int, member func(key, v []byte)) (int, bool) {
		return object(raw, j, func(key []byte, v int) (int, bool) {
			end, ok := laxjson.SkipValue(raw, v)
			if ok {
				member(key, raw[v:end]) // a map: the last of a key wins
			}
			return end, ok
		})
	}
	end, ok := laxjson.EachMember(raw, 0, func(key []byte, j int) (int, bool) {
		switch string(key) {
		case "user":
			if !first(&seen, 1) {
				return j, false
			}
			return section(j, func(key, v []byte) {
				switch string(key) {
				case "country":
					k.country = v
				case "language":
					k.language = v
				}
			})
		case "device":
			if !first(&seen, 2) {
				return j, false
			}
			return section(j, func(key, v []byte) {
				switch string(key) {
				case "type":
					k.deviceType = v
				case "os":
					k.os = v
				case "browser":
					k.browser = v
				case "crawler":
					k.crawler = v
				}
			})
		case "site":
			if !first(&seen, 4) {
				return j, false
			}
			return section(j, func(key, v []byte) {
				if string(key) == "category" {
					k.category = v
				}
			})
		case "human_score":
			if !first(&seen, 8) {
				return j, false
			}
			end, ok := laxjson.SkipValue(raw, j)
			k.humanScore = raw[j:end]
			return end, ok
		}
		return skipOther(raw, key, j, keywordKeys)
	})
	return k, ok && end == len(raw)
}

var keywordKeys = []string{"user", "device", "site", "human_score"}

// fastLax reads the keyword tree's values with the scanner; the values are
// valid JSON, so a value it does not take is one of another shape, which
// the laxjson types refuse too.
var fastLax = laxReader{
	firstString: func(raw json.RawMessage) string {
		l, end, ok := laxjson.LaxStrings(raw, 0)
		if !ok || end != len(raw) || len(l) == 0 {
			return ""
		}
		return strings.TrimSpace(l[0])
	},
	boolean: func(raw json.RawMessage) (laxjson.Bool, bool) {
		b, end, ok := laxjson.LaxBool(raw, 0)
		return b, ok && end == len(raw)
	},
	strings: func(raw json.RawMessage) ([]string, bool) {
		l, end, ok := laxjson.LaxStrings(raw, 0)
		return l, ok && end == len(raw)
	},
	number: func(raw json.RawMessage) (float64, bool) {
		if len(raw) > 0 && raw[0] == '[' {
			start, stop := -1, -1
			_, ok := laxjson.EachValueAt(raw, 0, func(j int) (int, bool) {
				end, ok := laxjson.SkipValue(raw, j)
				if start < 0 {
					start, stop = j, end
				}
				return end, ok
			})
			if !ok || start < 0 {
				return 0, false
			}
			raw = raw[start:stop]
		}
		s, end, ok := laxjson.LaxString(raw, 0)
		if len(raw) == 0 || !ok || end != len(raw) {
			return 0, false
		}
		return score(s)
	},
}
