package outbound_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/adshares/dsp-bridge/outbound"
)

// canary is a loopback server that must never be reached by a refused
// fetch: it counts every connection and every request.
type canary struct {
	*httptest.Server
	conns, hits atomic.Int64
}

func newCanary(t *testing.T) *canary {
	c := &canary{}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		w.Write([]byte("canary"))
	}))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

func (c *canary) port() string {
	_, p, _ := net.SplitHostPort(c.Listener.Addr().String())
	return p
}

// redirector is a server on another loopback address (127.0.0.2) that a
// client may reach through allow_networks 127.0.0.2/32 while the canary on
// 127.0.0.1 stays refused: /to?u=URL redirects to URL, /hops/N redirects
// N more times before answering 200.
type redirector struct {
	*httptest.Server
	hits atomic.Int64
}

func newRedirector(t *testing.T) *redirector {
	t.Helper()
	return newRedirectorOn(t, "127.0.0.2:0")
}

func newRedirectorOn(t *testing.T, addr string) *redirector {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s (a second loopback address): %v", addr, err)
	}
	r := &redirector{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if req.URL.Path == "/to" {
			http.Redirect(w, req, req.URL.Query().Get("u"), http.StatusFound)
			return
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hops/")); err == nil && n > 0 {
			http.Redirect(w, req, fmt.Sprintf("/hops/%d", n-1), http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	r.Listener.Close()
	r.Listener = l
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// Every route to a refused address is refused with its reason, and the
// canary on loopback sees nothing. Only loopback destinations are fetched
// here, so that even a broken policy could not make this test reach
// beyond this machine; the other ranges are refused by the same checks,
// shown without sockets in TestCheckURLRefusesWithoutConnecting and
// TestDialControl.
func TestEverySSRFRouteIsRefused(t *testing.T) {
	cn := newCanary(t)
	port := cn.port()
	red := newRedirector(t)
	dns := newFakeDNS(t, map[string][]string{
		"loopback.test":   {"127.0.0.1"},
		"mapped.test":     {"::ffff:127.0.0.1"},
		"v6loop.test":     {"::1"},
		"unspecif.test":   {"0.0.0.0"},
		"everything.test": {"127.0.0.1", "::1", "::ffff:127.0.0.3", "0.0.0.0", "::"},
	})
	strict := outbound.New(outbound.Options{Resolver: dns.Resolver()})
	// Allowed to reach the redirector only.
	viaRedirect := outbound.New(outbound.Options{Resolver: dns.Resolver(), Allow: prefixes("127.0.0.2/32")})
	to := func(target string) string { return red.URL + "/to?u=" + url.QueryEscape(target) }

	tests := []struct {
		name   string
		client *outbound.Client
		url    string
		kind   outbound.Kind
		reason string // a part of the error message
	}{
		{"direct loopback", strict, "http://127.0.0.1:" + port + "/", outbound.KindLoopback, "refused: 127.0.0.1 is a loopback address"},
		{"direct loopback https", strict, "https://127.0.0.1:" + port + "/", outbound.KindLoopback, "refused: 127.0.0.1 is a loopback address"},
		{"other loopback", strict, "http://127.9.9.9:" + port + "/", outbound.KindLoopback, "127.9.9.9 is a loopback address"},
		{"localhost", strict, "http://localhost:" + port + "/", outbound.KindLoopback, "loopback name"},
		{"sub.localhost", strict, "http://a.b.localhost.:" + port + "/", outbound.KindLoopback, "loopback name"},
		{"decimal IPv4", strict, "http://2130706433:" + port + "/", outbound.KindHost, "not a host name"},
		{"short IPv4", strict, "http://127.1:" + port + "/", outbound.KindHost, "not a host name"},
		{"hex IPv4", strict, "http://0x7f000001:" + port + "/", outbound.KindHost, "not a host name"},
		{"octal IPv4", strict, "http://0177.0.0.1:" + port + "/", outbound.KindHost, "not a host name"},
		{"IPv6 loopback", strict, "http://[::1]:" + port + "/", outbound.KindLoopback, "::1 is a loopback address"},
		{"IPv4-mapped IPv6", strict, "http://[::ffff:127.0.0.1]:" + port + "/", outbound.KindLoopback, "127.0.0.1 is a loopback address"},
		{"IPv4-mapped IPv6, hex", strict, "http://[::ffff:7f00:1]:" + port + "/", outbound.KindLoopback, "127.0.0.1 is a loopback address"},
		{"unspecified", strict, "http://0.0.0.0:" + port + "/", outbound.KindUnspecified, "unspecified"},
		{"IPv6 unspecified", strict, "http://[::]:" + port + "/", outbound.KindUnspecified, "unspecified"},
		{"gopher scheme", strict, "gopher://127.0.0.1:" + port + "/", outbound.KindScheme, "scheme"},
		{"credentials", strict, "http://dsp.example@127.0.0.1:" + port + "/", outbound.KindURL, "credentials"},
		// After resolution: only the dialer sees these addresses.
		{"name resolving to loopback", strict, "http://loopback.test:" + port + "/", outbound.KindLoopback, "refused: 127.0.0.1 is a loopback address"},
		{"name resolving to mapped loopback", strict, "http://mapped.test:" + port + "/", outbound.KindLoopback, "127.0.0.1 is a loopback"},
		{"name resolving to ::1", strict, "http://v6loop.test:" + port + "/", outbound.KindLoopback, "::1 is a loopback"},
		{"name resolving to 0.0.0.0", strict, "http://unspecif.test:" + port + "/", outbound.KindUnspecified, "unspecified"},
		{"name resolving to many refused", strict, "http://everything.test:" + port + "/", "", "refused: "},
		// Redirects: each hop is checked like the first URL.
		{"redirect to loopback", viaRedirect, to("http://127.0.0.1:" + port + "/"), outbound.KindLoopback, "127.0.0.1 is a loopback address (at redirect 1)"},
		{"redirect to a name resolving to loopback", viaRedirect, to("http://loopback.test:" + port + "/"), outbound.KindLoopback, "(at redirect 1)"},
		{"redirect to localhost", viaRedirect, to("http://localhost:" + port + "/"), outbound.KindLoopback, "loopback name"},
		{"redirect to mapped loopback", viaRedirect, to("http://[::ffff:127.0.0.1]:" + port + "/"), outbound.KindLoopback, "loopback"},
		{"redirect to file", viaRedirect, to("file:///etc/passwd"), outbound.KindScheme, "scheme"},
		{"more than 3 redirects", viaRedirect, red.URL + "/hops/4", outbound.KindRedirects, "more than 3 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.client.Get(context.Background(), tt.url)
			if err == nil {
				t.Fatalf("fetched (status %d), want a refusal", resp.Status)
			}
			r, ok := outbound.AsRefused(err)
			if !ok {
				t.Fatalf("error %v (%T) is not a refusal", err, err)
			}
			if tt.kind != "" && r.Kind != tt.kind {
				t.Errorf("kind %s, want %s (%v)", r.Kind, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q lacks %q", err, tt.reason)
			}
		})
	}
	if n, c := cn.hits.Load(), cn.conns.Load(); n != 0 || c != 0 {
		t.Fatalf("the canary saw %d requests on %d connections; refused fetches must never connect", n, c)
	}
	if dns.count("loopback.test") == 0 {
		t.Fatal("the test resolver was never asked: the names were not resolved through it")
	}
	// Only the /hops chain and the /to hops reached the redirector: four
	// hops of /hops/4 (the fifth is refused) and one per /to case.
	if got := red.hits.Load(); got != 4+5 {
		t.Errorf("redirector hits = %d, want 9", got)
	}
}

// The literal hosts of every other refused range, refused by the check a
// bid gets (and every fetch starts with), without any connection.
func TestCheckURLRefusesWithoutConnecting(t *testing.T) {
	p := outbound.NewPolicy(nil, 0)
	tests := []struct {
		url    string
		kind   outbound.Kind
		reason string
	}{
		{"http://10.0.0.1/", outbound.KindPrivate, "refused: 10.0.0.1 is a private address"},
		{"http://172.31.255.1/", outbound.KindPrivate, "private"},
		{"http://192.168.0.1:8080/x", outbound.KindPrivate, "private"},
		{"http://100.64.0.1/", outbound.KindShared, "carrier-grade NAT"},
		{"http://169.254.169.254/latest/meta-data/", outbound.KindLinkLocal, "169.254.169.254 is the cloud metadata address"},
		{"http://169.254.1.1/", outbound.KindLinkLocal, "link-local"},
		{"http://[fe80::1%25eth0]/", outbound.KindLinkLocal, "link-local"},
		{"http://[fd12:3456::1]/", outbound.KindPrivate, "unique local"},
		{"http://[fec0::1]/", outbound.KindReserved, "site-local"},
		{"http://[::ffff:10.0.0.1]/", outbound.KindPrivate, "10.0.0.1 is a private"},
		{"http://[::ffff:169.254.169.254]/", outbound.KindLinkLocal, "metadata"},
		{"http://[::127.0.0.1]/", outbound.KindReserved, "outside global unicast"},
		{"http://[64:ff9b::a9fe:a9fe]/", outbound.KindLinkLocal, "64:ff9b::a9fe:a9fe (NAT64) carries 169.254.169.254, the cloud metadata address"},
		{"http://[64:ff9b::7f00:1]/", outbound.KindLoopback, "(NAT64) carries 127.0.0.1, a loopback address"},
		{"http://[2002:7f00:1::1]/", outbound.KindLoopback, "(6to4) carries 127.0.0.1, a loopback address"},
		{"http://[2002:c0a8:101::]/", outbound.KindPrivate, "(6to4) carries 192.168.1.1"},
		{"http://[64:ff9b:1::1]/", outbound.KindReserved, "local-use NAT64"},
		{"http://[2001::1]/", outbound.KindReserved, "Teredo"},
		{"http://[2001:db8::1]/", outbound.KindDocumentation, "documentation"},
		{"http://[ff02::1]/", outbound.KindMulticast, "multicast"},
		{"http://[100::1]/", outbound.KindReserved, "outside global unicast"},
		{"http://255.255.255.255/", outbound.KindBroadcast, "broadcast"},
		{"http://224.0.0.1/", outbound.KindMulticast, "multicast"},
		{"http://240.0.0.1/", outbound.KindReserved, "reserved"},
		{"http://192.0.2.10/", outbound.KindDocumentation, "TEST-NET-1"},
		{"http://198.18.0.1/", outbound.KindReserved, "benchmarking"},
		{"http://0.1.2.3/", outbound.KindReserved, "this network"},
		{"file:///etc/passwd", outbound.KindScheme, "scheme"},
		{"ftp://dsp.example/x", outbound.KindScheme, "scheme"},
		{"javascript:alert(1)", outbound.KindScheme, "scheme"},
		{"//dsp.example/bill", outbound.KindScheme, "scheme"},
		{"http:///bill", outbound.KindHost, "no host"},
		{"http:dsp.example", outbound.KindHost, "no host"},
		{"http://dsp.example:0/", outbound.KindURL, "port"},
		{"http://dsp.example:99999/", outbound.KindURL, "port"},
		{"http://dsp.example:/", outbound.KindURL, "empty port"},
		{"http://dsp..example/", outbound.KindHost, "not a valid host name"},
		{"http://dsp.example/" + strings.Repeat("a", 5000), outbound.KindURL, "bytes long"},
		{"", outbound.KindURL, "empty"},
	}
	for _, tt := range tests {
		err := p.CheckURL(tt.url)
		r, ok := outbound.AsRefused(err)
		if !ok {
			t.Errorf("CheckURL(%.60q) = %v, want a refusal", tt.url, err)
			continue
		}
		if r.Kind != tt.kind || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("CheckURL(%.60q) = %s %q, want %s containing %q", tt.url, r.Kind, err, tt.kind, tt.reason)
		}
	}
	for _, ok := range []string{
		"http://dsp.example/bill?price=${AUCTION_PRICE}&id=1",
		"https://win.dsp-example.com:8443/w?p=1.25&a=b%20c#frag",
		"http://dsp:9001/bill",
		"http://8.8.8.8/x",
		"http://[2606:4700::1111]/x",
		"http://[64:ff9b::808:808]/x", // NAT64 of a public address
		"https://xn--bcher-kva.example/",
		"https://bücher.example/",
		"http://a_b.example.com/",
		"HTTP://DSP.EXAMPLE/Bill",
	} {
		if err := p.CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", ok, err)
		}
	}
}

// A strict check at the dialer: CheckURL lets a host name through, and the
// address it resolves to is refused when dialled.
func TestCheckURLPassesNamesAndTheDialerRefuses(t *testing.T) {
	cn := newCanary(t)
	dns := newFakeDNS(t, map[string][]string{"rebind.test": {"127.0.0.1"}})
	c := outbound.New(outbound.Options{Resolver: dns.Resolver()})
	u := "http://rebind.test:" + cn.port() + "/bill"
	if err := c.CheckURL(u); err != nil {
		t.Fatalf("CheckURL(%s) = %v; a name is only checked once resolved", u, err)
	}
	_, err := c.Get(context.Background(), u)
	if !outbound.IsRefused(err) {
		t.Fatalf("Get = %v, want a refusal at dial time", err)
	}
	if cn.conns.Load() != 0 {
		t.Fatal("the canary was connected to")
	}
}

// An allowed network is reached, through a name too, and up to three
// redirects are followed.
func TestAllowedNetworkWorks(t *testing.T) {
	cn := newCanary(t)
	dns := newFakeDNS(t, map[string][]string{"dsp.test": {"127.0.0.1"}})
	c := outbound.New(outbound.Options{Resolver: dns.Resolver(), Allow: prefixes("127.0.0.0/8")})
	for _, u := range []string{cn.URL + "/bill?x=1", "http://dsp.test:" + cn.port() + "/bill", "http://[::ffff:127.0.0.1]:" + cn.port() + "/"} {
		resp, err := c.Get(context.Background(), u)
		if err != nil || resp.Status != 200 || string(resp.Body) != "canary" {
			t.Fatalf("Get %s = %+v, %v; want 200 canary", u, resp, err)
		}
	}
	if cn.hits.Load() != 3 {
		t.Fatalf("hits = %d, want 3", cn.hits.Load())
	}
	// The allow list opens only what it names.
	if _, err := c.Get(context.Background(), "http://10.0.0.1/"); !outbound.IsRefused(err) {
		t.Fatalf("10.0.0.1 with only 127/8 allowed: %v", err)
	}

	red := newRedirector(t)
	rc := outbound.New(outbound.Options{Allow: prefixes("127.0.0.2/32")})
	resp, err := rc.Get(context.Background(), red.URL+"/hops/3")
	if err != nil || resp.Status != 200 || !strings.HasSuffix(resp.URL, "/hops/0") {
		t.Fatalf("3 redirects: %+v, %v; want followed to /hops/0", resp, err)
	}
	none := outbound.New(outbound.Options{Allow: prefixes("127.0.0.2/32"), MaxRedirects: -1})
	if _, err := none.Get(context.Background(), red.URL+"/hops/1"); !outbound.IsRefused(err) {
		t.Fatalf("MaxRedirects -1 followed a redirect: %v", err)
	}
}

// A refused address among allowed ones is skipped, never connected to: the
// name resolves first to the canary's 127.0.0.1:P, then to 127.0.0.2:P.
func TestMixedAnswerConnectsOnlyToAllowedAddress(t *testing.T) {
	cn := newCanary(t)
	red := newRedirectorOn(t, "127.0.0.2:"+cn.port())
	dns := newFakeDNS(t, map[string][]string{"mixed.test": {"127.0.0.1", "127.0.0.2"}})
	c := outbound.New(outbound.Options{Resolver: dns.Resolver(), Allow: prefixes("127.0.0.2/32")})
	resp, err := c.Get(context.Background(), "http://mixed.test:"+cn.port()+"/hops/0")
	if err != nil || resp.Status != 200 || string(resp.Body) != "ok" {
		t.Fatalf("Get = %+v, %v; want 200 ok from 127.0.0.2", resp, err)
	}
	if cn.conns.Load() != 0 || red.hits.Load() != 1 {
		t.Fatalf("canary connections %d, redirector hits %d; want 0 and 1", cn.conns.Load(), red.hits.Load())
	}
}
