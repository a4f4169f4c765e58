package bridge

import (
	"encoding/json"
	"strings"

	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// The AdUser keyword tree (user.keywords) as fastBidCall reads it: compacted
// as the reference decoder stores it, then read in one pass for applyKeywords.

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
