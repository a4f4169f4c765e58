package outbound_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/adshares/dsp-bridge/outbound"
)

// Proxy environment variables are never honoured; a configured proxy
// carries every request, and literal refused hosts stay refused.
func TestProxy(t *testing.T) {
	target := newCanary(t)
	var proxied atomic.Int64
	var proxiedURL atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		proxiedURL.Store(r.URL.String())
		w.Write([]byte("via proxy"))
	}))
	defer proxy.Close()
	dns := newFakeDNS(t, map[string][]string{"dsp.test": {"127.0.0.1"}})

	// A name (not localhost, not a loopback literal: net/http would never
	// proxy those anyway) with the environment pointing at the proxy.
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	c := outbound.New(outbound.Options{Resolver: dns.Resolver(), Allow: prefixes("127.0.0.0/8")})
	resp, err := c.Get(context.Background(), "http://dsp.test:"+target.port()+"/bill")
	if err != nil || string(resp.Body) != "canary" || proxied.Load() != 0 {
		t.Fatalf("with HTTP_PROXY set: %+v, %v, proxy hits %d; want a direct call", resp, err, proxied.Load())
	}

	pu, _ := url.Parse(proxy.URL)
	pc := outbound.New(outbound.Options{Proxy: pu})
	resp, err = pc.Get(context.Background(), "http://dsp.example/bill?id=1")
	if err != nil || string(resp.Body) != "via proxy" || proxiedURL.Load() != "http://dsp.example/bill?id=1" {
		t.Fatalf("through the proxy: %+v, %v, proxy saw %v", resp, err, proxiedURL.Load())
	}
	if _, err := pc.Get(context.Background(), target.URL); !outbound.IsRefused(err) {
		t.Fatalf("a loopback literal through the proxy: %v, want refused", err)
	}
	if proxied.Load() != 1 || target.hits.Load() != 1 {
		t.Fatalf("proxy hits %d, target hits %d; want 1 and 1", proxied.Load(), target.hits.Load())
	}
}

func TestBodyIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 100_000)))
	}))
	defer srv.Close()
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8"), MaxBodyBytes: 1000})
	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil || len(resp.Body) != 1000 || !resp.Truncated {
		t.Fatalf("Get: %d bytes, truncated %v, %v; want 1000 and truncated", len(resp.Body), resp != nil && resp.Truncated, err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	buf := make([]byte, 200_000)
	n := 0
	for err == nil {
		var m int
		m, err = r.Body.Read(buf[n:])
		n += m
	}
	if n != 1000 || !errors.Is(err, outbound.ErrBodyTooLarge) {
		t.Fatalf("Do body: %d bytes, %v; want 1000 then ErrBodyTooLarge", n, err)
	}
	exact := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8"), MaxBodyBytes: 100_000})
	if resp, err := exact.Get(context.Background(), srv.URL); err != nil || resp.Truncated || len(resp.Body) != 100_000 {
		t.Fatalf("a body of exactly the limit: %v, %v", resp.Truncated, err)
	}
}

// A network error is not a refusal: callers retry those.
func TestNetworkErrorIsNotRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8")})
	_, err = c.Get(context.Background(), "http://"+addr+"/")
	if err == nil || outbound.IsRefused(err) {
		t.Fatalf("connection refused by the OS: %v; want a plain network error", err)
	}
}
