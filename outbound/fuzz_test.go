package outbound

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

var kinds = map[Kind]bool{
	KindURL: true, KindScheme: true, KindHost: true, KindRedirects: true, KindLoopback: true, KindPrivate: true,
	KindShared: true, KindLinkLocal: true, KindMulticast: true, KindBroadcast: true, KindUnspecified: true,
	KindDocumentation: true, KindReserved: true,
}

// FuzzCheckURL: CheckURL never panics, refuses only with a typed,
// explained refusal, and what it accepts is an http(s) URL the client can
// request whose literal host (as either of Go's IP parsers reads it) the
// policy allows.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		// Notice URLs as DSPs send them (the partners' field documents,
		// dspsim, OpenRTB macros left in).
		"http://adserver.com",
		"http://mtagdev.mman.kr:9300/V2/banner_step2.html",
		"https://win.dsp.example/win?price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}",
		"http://127.0.0.1:9001/bill?price=2.5&auction=a1&imp=1&bid=b1&seat=s1&ad=c1",
		"http://dsp:9001/bill?price=%24%7BAUCTION_PRICE%7D",
		"https://bid.g.doubleclick.net/xbbe/pixel?d=KAE&v=APEucNX",
		"https://x.bidswitch.net/burl?ssp=adshares&p=${AUCTION_PRICE:B64}",
		"https://bücher.example/ü?q=1#frag",
		// Hostile ones.
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[::ffff:127.0.0.1]:8015/bid",
		"http://[fe80::1%25eth0]/",
		"http://[64:ff9b::7f00:1]/",
		"http://2130706433/",
		"http://0x7f.1/",
		"http://localhost./",
		"http://dsp.example@127.0.0.1/",
		"http://127.0.0.1%2f@dsp.example/",
		"http://%31%32%37.0.0.1/",
		"file:///etc/passwd",
		"gopher://127.0.0.1:25/_HELO",
		"http://dsp.example:0/",
		"http:\\\\127.0.0.1\\",
		"http://[::1",
		"\x00http://a/",
	} {
		f.Add(s)
	}
	p := NewPolicy(nil, 0)
	f.Fuzz(func(t *testing.T, raw string) {
		err := p.CheckURL(raw)
		if err != nil {
			r, ok := err.(*RefusedError)
			if !ok || !kinds[r.Kind] || r.Reason == "" || !strings.HasPrefix(err.Error(), "refused: ") {
				t.Fatalf("CheckURL(%q) = %#v: not a typed refusal", raw, err)
			}
			return
		}
		if len(raw) > DefaultMaxURLLength {
			t.Fatalf("accepted %d bytes", len(raw))
		}
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q: parse %v, scheme %q, host %q", raw, perr, u.Scheme, u.Host)
		}
		if _, rerr := http.NewRequest(http.MethodGet, raw, nil); rerr != nil {
			t.Fatalf("accepted %q, which cannot be requested: %v", raw, rerr)
		}
		host := u.Hostname()
		if a, aerr := netip.ParseAddr(host); aerr == nil && p.CheckAddr(a) != nil {
			t.Fatalf("accepted %q with refused address %s", raw, a)
		}
		if ip := net.ParseIP(host); ip != nil {
			if a, ok := netip.AddrFromSlice(ip); !ok || p.CheckAddr(a) != nil {
				t.Fatalf("accepted %q whose host net.ParseIP reads as refused %s", raw, ip)
			}
		}
		if h := strings.TrimSuffix(strings.ToLower(host), "."); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			t.Fatalf("accepted %q: a localhost name", raw)
		}
	})
}
