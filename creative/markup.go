package creative

import (
	"net/url"
	"strings"
)

// Kind is what a bid's adm looks like before it is parsed.
type Kind string

// Markup kinds.
const (
	KindNone   Kind = "none"   // no adm: the creative can only come from the nurl
	KindHTML   Kind = "html"   // HTML: accepted only as image markup
	KindVAST   Kind = "vast"   // an XML document: accepted only as VAST 2.0-4.x
	KindNative Kind = "native" // JSON (OpenRTB native): refused
)

// MaxMarkupBytes is the largest adm parsed. Image markup is a few hundred
// bytes and inline VAST a few kilobytes; anything near this is not markup the
// bridge can render.
const MaxMarkupBytes = 256 << 10

// Classify tells what kind of markup adm is, from its first significant
// characters. It does not validate: ParseImageMarkup and ParseVAST do.
func Classify(adm string) Kind {
	s := strings.TrimLeft(strings.TrimPrefix(adm, "\uFEFF"), " \t\r\n\f")
	// Leading comments say nothing about the kind (VAST often starts with one).
	for strings.HasPrefix(s, "<!--") {
		_, rest, ok := strings.Cut(s[4:], "-->")
		if !ok {
			break
		}
		s = strings.TrimLeft(rest, " \t\r\n\f")
	}
	switch {
	case s == "":
		return KindNone
	case s[0] == '{' || s[0] == '[':
		return KindNative
	case hasPrefixFold(s, "<?xml") || hasPrefixFold(s, "<vast"):
		return KindVAST
	}
	return KindHTML
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// absURL checks a URL taken from markup or VAST: absolute http(s), with a
// host and no user info. A protocol-relative URL (//cdn/...) is taken as
// https, the way an https page loads it. Leading and trailing whitespace is
// dropped (browsers do the same); otherwise the URL is kept byte for byte, as
// trackers may depend on its exact form.
func absURL(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "//") {
		s = "https:" + s
	}
	if s == "" || len(s) > 8<<10 || strings.ContainsAny(s, " \t\r\n\x00") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return s, true
}
