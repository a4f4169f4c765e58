package config

import (
	"fmt"
	"net/textproto"
	"sort"
)

// reservedHeaders are headers dsps[].headers may not set, with the reason:
// net/http ignores or refuses them, or they would contradict how the bridge
// frames and encodes the request. Content-Type may be set (some DSPs want a
// charset on it); the body is JSON either way.
var reservedHeaders = map[string]string{
	"Host":              "net/http takes the host from the endpoint and ignores this header",
	"Content-Length":    "the bridge frames the body; net/http ignores this header",
	"Transfer-Encoding": "the bridge frames the body; net/http ignores this header",
	"Content-Encoding":  "set from dsps[].gzip; another value makes the DSP misread the body",
	"Accept-Encoding":   "set from dsps[].gzip; the bridge decodes only gzip answers",
	"X-Openrtb-Version": "set from dsps[].dialect",
	"Connection":        "hop-by-hop: the bridge's connection pool owns the connection",
	"Keep-Alive":        "hop-by-hop: the bridge's connection pool owns the connection",
	"Proxy-Connection":  "hop-by-hop: the bridge's connection pool owns the connection",
	"Upgrade":           "hop-by-hop: the bridge's connection pool owns the connection",
	"Te":                "hop-by-hop: the bridge's connection pool owns the connection",
	"Trailer":           "hop-by-hop: the bridge's connection pool owns the connection",
	"Expect":            "100-continue would add a round trip to every bid request",
}

// checkHeaders lists what is wrong with a DSP's extra headers: names that
// are not HTTP tokens, values with control characters (CR and LF would
// split the request; net/http refuses every such request, so every call
// would fail), headers reserved to the bridge, and one header given twice
// in different case. Sorted, so that config check prints a stable list.
func checkHeaders(h map[string]string) []string {
	var p []string
	seen := map[string]string{}
	for name, value := range h {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case !validHeaderName(name):
			p = append(p, fmt.Sprintf("headers: %q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", name))
		case reservedHeaders[canon] != "":
			p = append(p, fmt.Sprintf("headers: %s cannot be set: %s", canon, reservedHeaders[canon]))
		case !validHeaderValue(value):
			p = append(p, fmt.Sprintf("headers: the value of %s has a control character (CR, LF, NUL, ...): net/http would refuse every request", canon))
		}
		if other, dup := seen[canon]; dup {
			p = append(p, fmt.Sprintf("headers: %q and %q are the same header", min(other, name), max(other, name)))
		}
		seen[canon] = name
	}
	sort.Strings(p)
	return p
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c < 0x80 && c > ' ' && c != 0x7f && !isSeparator(c):
		default:
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}

// validHeaderValue reports whether net/http sends s as a header value: no
// control character but horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
