package adserversim

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// urlChars are the characters PHP's FILTER_SANITIZE_URL keeps. FILTER_VALIDATE_URL
// first sanitizes and fails if that changed the length, so any other byte
// (space, control, non-ASCII) makes a URL invalid.
const urlChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
	"$-_.+" + "!*'()," + "{}|\\^~[]`" + "<>#%\"" + ";/?:@&="

// filterValidateURL mimics PHP filter_var($s, FILTER_VALIDATE_URL): a scheme,
// a host for http(s) that is a valid hostname or bracketed IPv6, a host for
// any scheme but mailto/news/file, valid user info, a numeric port.
func filterValidateURL(s string) error {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(urlChars, rune(s[i])) {
			return fmt.Errorf("byte 0x%02x at %d is not allowed in a URL", s[i], i)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse_url fails: %v", err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("no scheme")
	}
	host := u.Hostname()
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n > 65535 {
			return fmt.Errorf("bad port %q", p)
		}
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "http" || scheme == "https" {
		if host == "" {
			return fmt.Errorf("no host")
		}
		if strings.HasPrefix(u.Host, "[") {
			if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
				return fmt.Errorf("bad IPv6 host %q", u.Host)
			}
		} else if !validHostname(host) {
			return fmt.Errorf("host %q is not a valid hostname", host)
		}
	} else if host == "" && u.Opaque == "" && scheme != "mailto" && scheme != "news" && scheme != "file" {
		return fmt.Errorf("no host")
	}
	if u.User != nil {
		if !validUserinfo(u.User.Username()) {
			return fmt.Errorf("bad user info")
		}
		if p, ok := u.User.Password(); ok && !validUserinfo(p) {
			return fmt.Errorf("bad user info")
		}
	}
	return nil
}

// validHostname is PHP's _php_filter_validate_domain with FILTER_FLAG_HOSTNAME:
// alphanumeric labels with inner hyphens, each at most 63, in all at most 253.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
			if !alnum && (c != '-' || i == 0 || i == len(label)-1) {
				return false
			}
		}
	}
	return true
}

func validUserinfo(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:%", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// checkInfoURL applies §4.6 to a URL published in info.json: the AdServer
// runs it through idn_to_ascii (which case-folds and limits segment and
// total length) and FILTER_VALIDATE_URL, then uses the converted string.
func checkInfoURL(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("must be a URL string, got %s (a type error aborts ads:fetch-hosts)", jsonType(v))
	}
	if s != strings.ToLower(s) {
		return fmt.Sprintf("%q must be all lowercase: idn_to_ascii case-folds it, so the AdServer would use another string (§4.6)", s)
	}
	if len(s) >= 250 {
		return fmt.Sprintf("URL of %d characters is too long for idn_to_ascii (§4.6)", len(s))
	}
	for seg := range strings.SplitSeq(s, ".") {
		if len(seg) > 63 {
			return fmt.Sprintf("%q has a dot-separated segment longer than 63 characters (§4.6)", s)
		}
	}
	if strings.Contains(s, "..") {
		return fmt.Sprintf("%q has an empty dot-separated segment (§4.6)", s)
	}
	if err := filterValidateURL(s); err != nil {
		return fmt.Sprintf("%q fails FILTER_VALIDATE_URL: %v (aborts ads:fetch-hosts)", s, err)
	}
	u, _ := url.Parse(s)
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("%q is not http(s): the AdServer fetches it with Guzzle", s)
	}
	return ""
}

// checkInventoryURL applies §4.7 to serve_url, click_url and view_url: valid
// for FILTER_VALIDATE_URL as is or with "http:" in front, at most 1024 long.
func checkInventoryURL(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("must be a URL string, got %s", jsonType(v))
	}
	if len(s) > 1024 {
		return fmt.Sprintf("URL of %d characters is over 1024: aborts the whole import run (§4.7)", len(s))
	}
	if err := filterValidateURL(s); err != nil {
		if err2 := filterValidateURL("http:" + s); err2 != nil {
			return fmt.Sprintf("%q fails FILTER_VALIDATE_URL: %v: aborts the whole import run (§4.7, §14)", s, err)
		}
	}
	return ""
}

// phpURLEncode is PHP urlencode, the RFC 1738 form http_build_query uses:
// letters, digits and -_. stay, space becomes +, the rest %XX in uppercase.
func phpURLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
