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

// parseRawQuery splits a raw query string into its parameters, decoding
// %XX escapes only: the AdServer appends parameters RFC1738-style, so a
// literal "+" in a value is a "+", never a space (url.ParseQuery would turn
// it into one). Parameters with a broken escape are skipped, not fatal.
func parseRawQuery(raw string) map[string][]string {
	out := map[string][]string{}
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
		val, err := url.PathUnescape(v)
		if err != nil {
			continue
		}
		out[key] = append(out[key], val)
	}
	return out
}

// parseEventQuery reads what the bridge keeps of a view or click call. The
// ctx parameter (base64url JSON) is deliberately ignored: nothing in it is
// needed, so it can never make a call fail. Repeated parameters (iid comes
// twice on click) use their first well-formed value.
func parseEventQuery(raw string) (query, error) {
	p := parseRawQuery(raw)
	var q query
	q.ExtID = first(p["extid"])
	if !extIDRe.MatchString(q.ExtID) {
		return q, errBadExtID
	}
	cid, ok := normalizeID(first(p["cid"]))
	if !ok {
		return q, errBadCaseID
	}
	q.CaseID = cid
	q.ImpressionID = firstID(p["iid"])
	q.ZoneID = firstID(p["zid"])
	q.PublisherID = firstID(p["pid"])
	return q, nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// firstID is the first value that is a well-formed AdServer id, or "".
func firstID(vs []string) string {
	for _, v := range vs {
		if id, ok := normalizeID(v); ok {
			return id
		}
	}
	return ""
}

// normalizeID turns an AdServer id (case id, impression id, ...) into 32
// lowercase hex: dashes removed, lowercased. The case id must have this form
// in payment details (ADSERVER-BRIDGE §13).
func normalizeID(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	s = strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if len(s) != 32 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return s, true
}
