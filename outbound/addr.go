package outbound

import (
	"fmt"
	"net/netip"
	"strings"
)

// special is one address range the policy refuses unless allowed.
type special struct {
	prefix netip.Prefix
	kind   Kind
	what   string // completes "<addr> is ..."
	// embedded, if set, extracts an IPv4 address the range carries (6to4,
	// NAT64): such an address is refused exactly when its IPv4 one is.
	embedded func(netip.Addr) netip.Addr
}

func sp(prefix string, kind Kind, what string) special {
	return special{prefix: netip.MustParsePrefix(prefix), kind: kind, what: what}
}

// specials is checked in order; the first match decides, so more specific
// ranges come first. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
// unmapped before the check: they reach the IPv4 address.
//
// Documentation ranges are refused too: they are never routed on the
// internet, so a DSP naming one has a broken URL or targets a network that
// reuses the range internally; refusing them costs no legitimate notice.
var specials = []special{
	sp("0.0.0.0/32", KindUnspecified, "the unspecified address"),
	sp("0.0.0.0/8", KindReserved, `in 0.0.0.0/8 ("this network")`),
	sp("10.0.0.0/8", KindPrivate, "a private address (10.0.0.0/8)"),
	sp("100.64.0.0/10", KindShared, "a shared carrier-grade NAT address (100.64.0.0/10)"),
	sp("127.0.0.0/8", KindLoopback, "a loopback address"),
	sp("169.254.169.254/32", KindLinkLocal, "the cloud metadata address (link-local)"),
	sp("169.254.0.0/16", KindLinkLocal, "a link-local address"),
	sp("172.16.0.0/12", KindPrivate, "a private address (172.16.0.0/12)"),
	sp("192.0.0.0/24", KindReserved, "an IETF protocol assignment (192.0.0.0/24)"),
	sp("192.0.2.0/24", KindDocumentation, "a documentation address (TEST-NET-1)"),
	sp("192.88.99.0/24", KindReserved, "a 6to4 relay anycast address (192.88.99.0/24)"),
	sp("192.168.0.0/16", KindPrivate, "a private address (192.168.0.0/16)"),
	sp("198.18.0.0/15", KindReserved, "a benchmarking address (198.18.0.0/15)"),
	sp("198.51.100.0/24", KindDocumentation, "a documentation address (TEST-NET-2)"),
	sp("203.0.113.0/24", KindDocumentation, "a documentation address (TEST-NET-3)"),
	sp("224.0.0.0/4", KindMulticast, "a multicast address"),
	sp("255.255.255.255/32", KindBroadcast, "the broadcast address"),
	sp("240.0.0.0/4", KindReserved, "a reserved address (240.0.0.0/4)"),

	sp("::/128", KindUnspecified, "the unspecified address"),
	sp("::1/128", KindLoopback, "a loopback address"),
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), what: "NAT64", embedded: last32}, // RFC 6052
	{prefix: netip.MustParsePrefix("2002::/16"), what: "6to4", embedded: sixToFour},  // RFC 3056
	sp("64:ff9b:1::/48", KindReserved, "a local-use NAT64 address (64:ff9b:1::/48)"),
	sp("2001::/32", KindReserved, "a Teredo tunnel address (2001::/32)"),
	sp("2001:db8::/32", KindDocumentation, "a documentation address (2001:db8::/32)"),
	sp("2001::/23", KindReserved, "an IETF protocol assignment (2001::/23)"),
	sp("3fff::/20", KindDocumentation, "a documentation address (3fff::/20)"),
	sp("fc00::/7", KindPrivate, "a unique local address (fc00::/7)"),
	sp("fe80::/10", KindLinkLocal, "a link-local address"),
	sp("fec0::/10", KindReserved, "a deprecated site-local address (fec0::/10)"),
	sp("ff00::/8", KindMulticast, "a multicast address"),
	// Only 2000::/3 is allocated for global unicast; everything else left
	// (::/8 with the IPv4-compatible forms, 100::/64 discard, 5f00::/16
	// SRv6, unassigned space) is no web host.
	{prefix: netip.MustParsePrefix("::/0"), kind: KindReserved, what: "outside global unicast (2000::/3)"},
}

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// last32 is the IPv4 address in the last 32 bits (NAT64 /96).
func last32(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
}

// sixToFour is the IPv4 address in bits 16..47 of a 6to4 address.
func sixToFour(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
}

// neverAllowed are kinds no allow list opens: none of them is a unicast
// host an HTTP client could mean (0.0.0.0 even connects to this host).
func neverAllowed(k Kind) bool {
	return k == KindUnspecified || k == KindMulticast || k == KindBroadcast
}

// CheckAddr returns a *RefusedError if the policy refuses to connect to a,
// else nil. It is what the dialer asks for every address it is about to
// connect to, after DNS resolution.
func (p *Policy) CheckAddr(a netip.Addr) error {
	if r := p.checkAddr(a); r != nil {
		return r
	}
	return nil
}

func (p *Policy) checkAddr(a netip.Addr) *RefusedError {
	if !a.IsValid() {
		return refuse(KindHost, "not an IP address")
	}
	a = a.WithZone("").Unmap()
	s, ok := lookup(a)
	if !ok {
		return nil
	}
	if !neverAllowed(s.kind) && p.allowed(a) {
		return nil
	}
	if s.embedded != nil {
		inner := s.embedded(a)
		r := p.checkAddr(inner)
		if r == nil {
			return nil
		}
		return &RefusedError{Kind: r.Kind, Addr: a, what: r.what,
			Reason: fmt.Sprintf("%s (%s) carries %s, %s", a, s.what, inner, r.what)}
	}
	return &RefusedError{Kind: s.kind, Addr: a, what: s.what, Reason: fmt.Sprintf("%s is %s", a, s.what)}
}

// lookup finds the first special range holding a (unmapped, zoneless).
func lookup(a netip.Addr) (special, bool) {
	if a.Is6() && globalUnicast6.Contains(a) {
		// Skip the catch-all for ordinary global unicast.
		for _, s := range specials {
			if s.prefix.Bits() > 0 && s.prefix.Contains(a) {
				return s, true
			}
		}
		return special{}, false
	}
	for _, s := range specials {
		if s.prefix.Contains(a) {
			return s, true
		}
	}
	return special{}, false
}

func (p *Policy) allowed(a netip.Addr) bool {
	for _, n := range p.allow {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// ParseNetwork parses one allow_networks entry: a CIDR prefix in its
// canonical form (no bits set past the prefix length), IPv4 written as
// IPv4.
func ParseNetwork(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		if _, aerr := netip.ParseAddr(strings.TrimSpace(s)); aerr == nil {
			return netip.Prefix{}, fmt.Errorf("%q is an address, not a CIDR prefix (for one host write %s/32 or /128)", s, strings.TrimSpace(s))
		}
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as 10.1.0.0/16", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped prefix; write the IPv4 form", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has bits set past its length; did you mean %s?", s, m)
	}
	return p, nil
}

// ParseNetworks parses an allow list; the error names every bad entry.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, s := range list {
		p, err := ParseNetwork(s)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		out = append(out, p)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("allow_networks: %s", strings.Join(bad, "; "))
	}
	return out, nil
}
