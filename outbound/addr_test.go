package outbound

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr string
		kind Kind // "" = allowed
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.1.1", ""},
		{"223.255.255.255", ""},
		{"0.0.0.0", KindUnspecified},
		{"0.255.255.255", KindReserved},
		{"10.0.0.0", KindPrivate},
		{"10.255.255.255", KindPrivate},
		{"100.64.0.0", KindShared},
		{"100.127.255.255", KindShared},
		{"127.0.0.1", KindLoopback},
		{"127.255.255.254", KindLoopback},
		{"169.254.169.254", KindLinkLocal},
		{"169.254.0.1", KindLinkLocal},
		{"172.16.0.1", KindPrivate},
		{"172.31.255.255", KindPrivate},
		{"192.0.0.170", KindReserved},
		{"192.0.2.1", KindDocumentation},
		{"192.88.99.1", KindReserved},
		{"192.168.255.255", KindPrivate},
		{"198.18.0.1", KindReserved},
		{"198.19.255.255", KindReserved},
		{"198.51.100.7", KindDocumentation},
		{"203.0.113.9", KindDocumentation},
		{"224.0.0.1", KindMulticast},
		{"239.255.255.250", KindMulticast},
		{"240.0.0.1", KindReserved},
		{"255.255.255.254", KindReserved},
		{"255.255.255.255", KindBroadcast},

		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::200e", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8
		{"::", KindUnspecified},
		{"::1", KindLoopback},
		{"::ffff:127.0.0.1", KindLoopback},
		{"::ffff:10.1.2.3", KindPrivate},
		{"::ffff:169.254.169.254", KindLinkLocal},
		{"::ffff:0.0.0.0", KindUnspecified},
		{"::ffff:8.8.8.8", ""},
		{"::127.0.0.1", KindReserved},     // IPv4-compatible, deprecated
		{"::ffff:0:7f00:1", KindReserved}, // IPv4-translated (SIIT)
		{"64:ff9b::7f00:1", KindLoopback},
		{"64:ff9b::a00:1", KindPrivate},
		{"64:ff9b::a9fe:a9fe", KindLinkLocal},
		{"64:ff9b:1::a00:1", KindReserved},
		{"2002:7f00:1::", KindLoopback},
		{"2002:a9fe:a9fe::1", KindLinkLocal},
		{"2002:ac10::1", KindPrivate},
		{"2001::1", KindReserved},
		{"2001:db8::1", KindDocumentation},
		{"2001:2::1", KindReserved},
		{"3fff::1", KindDocumentation},
		{"100::1", KindReserved},
		{"5f00::1", KindReserved},
		{"fc00::1", KindPrivate},
		{"fdff:ffff::1", KindPrivate},
		{"fe80::1", KindLinkLocal},
		{"fe80::1%eth0", KindLinkLocal},
		{"febf::1", KindLinkLocal},
		{"fec0::1", KindReserved},
		{"ff02::1", KindMulticast},
		{"ff05::1:3", KindMulticast},
	}
	p := NewPolicy(nil, 0)
	for _, tt := range tests {
		err := p.CheckAddr(netip.MustParseAddr(tt.addr))
		if tt.kind == "" {
			if err != nil {
				t.Errorf("%s: %v, want allowed", tt.addr, err)
			}
			continue
		}
		r, ok := err.(*RefusedError)
		if !ok || r.Kind != tt.kind {
			t.Errorf("%s: %v, want refused as %s", tt.addr, err, tt.kind)
			continue
		}
		if !strings.HasPrefix(r.Reason, r.Addr.String()+" ") || !r.Addr.IsValid() {
			t.Errorf("%s: reason %q does not start with the address %s", tt.addr, r.Reason, r.Addr)
		}
	}
	if err := p.CheckAddr(netip.Addr{}); err == nil {
		t.Error("the zero address was allowed")
	}
}

func TestAllowList(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/32")}
	p := NewPolicy(allow, 0)
	tests := []struct {
		addr    string
		allowed bool
	}{
		{"10.1.2.3", true},
		{"10.2.0.1", false},
		{"::ffff:10.1.2.3", true},  // the same host, mapped
		{"64:ff9b::a01:203", true}, // NAT64 of 10.1.2.3
		{"2002:a01:203::", true},   // 6to4 of 10.1.2.3
		{"64:ff9b::a02:1", false},
		{"fd00:1::5", true},
		{"fd00:2::5", false},
		{"127.0.0.1", false},
		{"8.8.8.8", true},
	}
	for _, tt := range tests {
		if err := p.CheckAddr(netip.MustParseAddr(tt.addr)); (err == nil) != tt.allowed {
			t.Errorf("%s: %v, want allowed=%v", tt.addr, err, tt.allowed)
		}
	}
	// No allow list opens what can never be a unicast host.
	all := NewPolicy([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, 0)
	for _, a := range []string{"0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "::ffff:0.0.0.0"} {
		if all.CheckAddr(netip.MustParseAddr(a)) == nil {
			t.Errorf("%s allowed by 0.0.0.0/0", a)
		}
	}
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "fe80::1"} {
		if err := all.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s refused with 0.0.0.0/0 and ::/0 allowed: %v", a, err)
		}
	}
}

// The dialer's hook sees the resolved address: it refuses whatever the
// policy refuses, whichever name led there, and never non-TCP networks.
func TestDialControl(t *testing.T) {
	c := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}})
	for _, tt := range []struct {
		network, address string
		kind             Kind
	}{
		{"tcp4", "127.0.0.1:80", KindLoopback},
		{"tcp4", "10.0.0.1:443", KindPrivate},
		{"tcp4", "192.168.1.1:80", KindPrivate},
		{"tcp4", "172.20.0.5:9001", KindPrivate},
		{"tcp4", "169.254.169.254:80", KindLinkLocal},
		{"tcp4", "100.100.100.200:80", KindShared},
		{"tcp6", "[::1]:80", KindLoopback},
		{"tcp6", "[fe80::1%eth0]:80", KindLinkLocal},
		{"tcp6", "[fd00::1]:80", KindPrivate},
		{"tcp6", "[::ffff:127.0.0.1]:80", KindLoopback},
		{"tcp6", "[64:ff9b::a9fe:a9fe]:80", KindLinkLocal},
		{"tcp4", "0.0.0.0:80", KindUnspecified},
		{"udp4", "8.8.8.8:53", KindURL},
		{"tcp4", "not-an-address:80", KindHost},
		{"tcp4", "10.1.9.9:80", ""},
		{"tcp4", "93.184.216.34:443", ""},
		{"tcp6", "[2606:2800:220:1::]:443", ""},
	} {
		err := c.control(tt.network, tt.address, nil)
		if tt.kind == "" {
			if err != nil {
				t.Errorf("%s %s: %v, want allowed", tt.network, tt.address, err)
			}
			continue
		}
		if r, ok := AsRefused(err); !ok || r.Kind != tt.kind {
			t.Errorf("%s %s: %v, want refused as %s", tt.network, tt.address, err, tt.kind)
		}
	}
}

func TestParseNetworks(t *testing.T) {
	got, err := ParseNetworks([]string{"10.1.0.0/16", " 127.0.0.0/8 ", "fd00::/8", "192.0.2.7/32"})
	if err != nil || len(got) != 4 || got[1].String() != "127.0.0.0/8" {
		t.Fatalf("ParseNetworks = %v, %v", got, err)
	}
	_, err = ParseNetworks([]string{"10.1.0.0/16", "10.1.2.3/16", "nonsense", "10.0.0.1", "::ffff:10.0.0.0/104", "10.0.0.0/33"})
	if err == nil {
		t.Fatal("bad entries accepted")
	}
	for _, want := range []string{`"10.1.2.3/16" has bits set past its length; did you mean 10.1.0.0/16?`,
		`"nonsense" is not a CIDR prefix`, `"10.0.0.1" is an address, not a CIDR prefix`, `IPv4-mapped`, `"10.0.0.0/33"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// localhost is refused like 127.0.0.1, and allowed where 127.0.0.1 is.
func TestLocalhostFollowsTheLoopbackAllowList(t *testing.T) {
	if err := NewPolicy(nil, 0).CheckURL("http://localhost:8080/w"); err == nil {
		t.Fatal("strict policy let localhost through")
	}
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if err := NewPolicy(loop, 0).CheckURL("http://localhost:8080/w"); err != nil {
		t.Fatalf("allow 127.0.0.0/8 refused localhost: %v", err)
	}
	private := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if err := NewPolicy(private, 0).CheckURL("http://localhost:8080/w"); err == nil {
		t.Fatal("an allow list without loopback let localhost through")
	}
}
