package events

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// query is the AdServer's view/click query string, parsed.
type query struct {
	ExtID        string
	CaseID       string
	ImpressionID string
	ZoneID       string
	PublisherID  string
}

// Errors of a malformed query; the handlers map them to answers.
var (
	errBadExtID  = errors.New("extid is missing or malformed")
	errBadCaseID = errors.New("cid must be 32 hex characters (dashes allowed)")
)

// extIDRe is what /bid hands out (and what the auctions table accepts).
var extIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// parseEventQuery reads what the bridge keeps of a view or click call. The
// ctx parameter (base64url JSON) is deliberately ignored: nothing in it is
// needed, so it can never make a call fail. Repeated parameters (iid comes
// twice on click) use their first well-formed value. It reads raw in one
// pass, decoding %XX escapes only: the AdServer appends parameters
// RFC1738-style, so a "+" stays a "+" (url.ParseQuery would make it a
// space); a broken escape skips its parameter. It allocates only for
// escaped values or ids to normalise. parseRawQuery, in the tests, is the
// map-based reference it is fuzzed against.
func parseEventQuery(raw string) (query, error) {
	var q query
	var haveExtID, haveCID bool
	var cid string
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.PathUnescape(k)
		if err != nil {
			continue
		}
		var dst *string
		switch key {
		case "extid", "cid":
		case "iid":
			dst = &q.ImpressionID
		case "zid":
			dst = &q.ZoneID
		case "pid":
			dst = &q.PublisherID
		default:
			continue
		}
		if (key == "extid" && haveExtID) || (key == "cid" && haveCID) || (dst != nil && *dst != "") {
			continue // the first value counts
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			continue
		}
		switch key {
		case "extid":
			q.ExtID, haveExtID = val, true
		case "cid":
			cid, haveCID = val, true
		default:
			if id, ok := normalizeID(val); ok {
				*dst = id
			}
		}
	}
	if !validExtID(q.ExtID) {
		return query{ExtID: q.ExtID}, errBadExtID
	}
	id, ok := normalizeID(cid)
	if !ok {
		return query{ExtID: q.ExtID}, errBadCaseID
	}
	q.CaseID = id
	return q, nil
}

// validExtID is extIDRe.MatchString without the regexp machinery.
func validExtID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeID turns an AdServer id (case id, impression id, ...) into 32
// lowercase hex: dashes removed, lowercased. The case id must have this form
// in payment details (ADSERVER-BRIDGE §13).
func normalizeID(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	if len(s) == 32 && isLowerHex(s) {
		return s, true // the usual form: nothing to copy
	}
	s = strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(s) != 32 || !isLowerHex(s) {
		return "", false
	}
	return s, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
