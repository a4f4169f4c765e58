package bridge

import (
	"strings"

	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// The readers of a /bid body's context (site, device and its headers,
// user) for fastBidCall.

var (
	contextKeys = []string{"site", "device", "user"}
	siteKeys    = []string{"domain", "page", "referrer", "keywords", "inframe"}
	deviceKeys  = []string{"ip", "headers"}
	userKeys    = []string{"uid", "keywords"}
)

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
