// Package outbound is the one HTTP client through which the bridge fetches
// URLs on a DSP's behalf (nurl, burl, lurl, creatives). Everything a DSP
// names is untrusted, so every fetch goes through a Policy: http(s) only, a
// bounded URL length, a host required, at most three redirects each checked
// the same way, no proxy unless configured, and — in the dialer, on the
// address actually connected to after DNS resolution — no loopback,
// private, link-local, multicast or other special-purpose address unless
// the DSP's allow list names it.
package outbound

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxURLLength bounds a URL's length in bytes. Notice URLs carry
// tracking data in their query, but nothing legitimate comes near this.
const DefaultMaxURLLength = 4096

// Policy decides which URLs and addresses may be fetched. The zero value
// refuses every special address and allows no exceptions.
type Policy struct {
	allow  []netip.Prefix
	maxURL int
}

// NewPolicy returns the policy with the given exceptions (a DSP's
// allow_networks) and URL length bound (0: DefaultMaxURLLength).
func NewPolicy(allow []netip.Prefix, maxURLLength int) *Policy {
	if maxURLLength <= 0 {
		maxURLLength = DefaultMaxURLLength
	}
	return &Policy{allow: append([]netip.Prefix(nil), allow...), maxURL: maxURLLength}
}

// Allow returns the policy's exceptions.
func (p *Policy) Allow() []netip.Prefix { return append([]netip.Prefix(nil), p.allow...) }

// CheckURL is the cheap check, without DNS, for bid time: the scheme, the
// length, the host, and a host that is an IP address (or the name
// localhost) the policy refuses. It returns a *RefusedError or nil. Pass
// the URL as it will be fetched (after macro expansion); a host name it
// lets through is still checked after resolution when fetched.
func (p *Policy) CheckURL(raw string) error {
	if _, r := p.checkURL(raw); r != nil {
		return r
	}
	return nil
}

func (p *Policy) checkURL(raw string) (*url.URL, *RefusedError) {
	max := p.maxURL
	if max <= 0 {
		max = DefaultMaxURLLength
	}
	if len(raw) > max {
		return nil, refuse(KindURL, "URL is %d bytes long, more than %d", len(raw), max)
	}
	if raw == "" {
		return nil, refuse(KindURL, "empty URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL; the reason stays short.
		msg := err.Error()
		if ue, ok := err.(*url.Error); ok {
			msg = ue.Err.Error()
		}
		return nil, refuse(KindURL, "not a URL: %s", msg)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, refuse(KindScheme, "scheme %s is not http or https", strconv.Quote(clip(u.Scheme, 16)))
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, refuse(KindHost, "URL has no host")
	}
	if u.User != nil {
		// Never needed by a notice, and a classic way to make a URL look
		// like it goes elsewhere (http://dsp.example@10.0.0.1/).
		return nil, refuse(KindURL, "URL carries user credentials")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, refuse(KindURL, "port %s is out of range", strconv.Quote(clip(port, 16)))
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, refuse(KindURL, "empty port")
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if r := p.checkAddr(a); r != nil {
			return nil, r
		}
		return u, nil
	}
	if r := checkHostName(host); r != nil {
		// localhost is loopback: an allow list that opens 127.0.0.1
		// opens the name too (the dialer still checks what it resolves to).
		if r.Kind == KindLoopback && p.checkAddr(netip.AddrFrom4([4]byte{127, 0, 0, 1})) == nil {
			return u, nil
		}
		return nil, r
	}
	return u, nil
}

// checkHostName accepts a DNS name the resolver would look up: labels of
// 1..63 bytes, at most 253 in all, no control or separator characters, and
// a last label that starts with a letter — no top-level domain starts with
// a digit, and this refuses the numeric forms of IPv4 that some resolvers
// accept (2130706433, 0x7f.1, 127.1).
func checkHostName(host string) *RefusedError {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "" || len(h) > 253 || !utf8.ValidString(h) {
		return refuse(KindHost, "host %s is not a valid host name", strconv.Quote(clip(host, 64)))
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return refuse(KindHost, "host %s is not a valid host name", strconv.Quote(clip(host, 64)))
		}
		for _, c := range l {
			if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return refuse(KindHost, "host %s is not a valid host name", strconv.Quote(clip(host, 64)))
			}
		}
	}
	if last := labels[len(labels)-1]; last[0] >= '0' && last[0] <= '9' {
		return refuse(KindHost, "host %s is not a host name or a standard IP address", strconv.Quote(clip(host, 64)))
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return refuse(KindLoopback, "%s is a loopback name", strconv.Quote(clip(host, 64)))
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
