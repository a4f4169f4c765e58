package outbound_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/adshares/dsp-bridge/outbound"
)

// countingNoticeServer is a loopback DSP notice endpoint that counts its
// connections and records the last request's line, Host and User-Agent.
func countingNoticeServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64, *atomic.Value) {
	t.Helper()
	var conns atomic.Int64
	var seen atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Method + " " + r.RequestURI + " " + r.Host + " " + r.UserAgent())
		h(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns, &seen
}

// Notices to one host share a kept-alive connection, whatever their paths
// and queries and whether the answer has a body.
func TestGetKeepsTheConnectionAcrossNotices(t *testing.T) {
	srv, conns, seen := countingNoticeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pixel":
			w.WriteHeader(http.StatusNoContent)
		case "/chunked":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		default:
			w.Write([]byte("ok"))
		}
	})
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8")})
	host := strings.TrimPrefix(srv.URL, "http://")
	for i := range 5 {
		for _, tc := range []struct{ path, status, body string }{
			{fmt.Sprintf("/burl?price=%d&id=a%%20b", i), "200", "ok"},
			{"/pixel", "204", ""},
			{"/chunked", "200", "ab"},
		} {
			u := srv.URL + tc.path
			resp, err := c.Get(context.Background(), u)
			if err != nil || fmt.Sprint(resp.Status) != tc.status || string(resp.Body) != tc.body || resp.URL != u {
				t.Fatalf("Get %s = %+v, %v; want %s %q", tc.path, resp, err, tc.status, tc.body)
			}
			if s := seen.Load().(string); s != "GET "+tc.path+" "+host+" "+outbound.DefaultUserAgent {
				t.Errorf("server saw %q", s)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 15 sequential notices, want 1", n)
	}
}

// A 3xx without a Location is an answer like any other, not a redirect;
// a relative Location is resolved against the URL that answered.
func TestGetRedirectEdges(t *testing.T) {
	srv, _, _ := countingNoticeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bare":
			w.WriteHeader(http.StatusFound)
		case "/a/rel":
			w.Header().Set("Location", "../done?q=1")
			w.WriteHeader(http.StatusSeeOther)
		case "/bad":
			w.Header().Set("Location", "http://[::1")
			w.WriteHeader(http.StatusMovedPermanently)
		default:
			w.Write([]byte(r.URL.RequestURI()))
		}
	})
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8")})
	if resp, err := c.Get(context.Background(), srv.URL+"/bare"); err != nil || resp.Status != http.StatusFound {
		t.Errorf("302 without Location: %+v, %v; want the 302 itself", resp, err)
	}
	resp, err := c.Get(context.Background(), srv.URL+"/a/rel")
	if err != nil || resp.Status != 200 || string(resp.Body) != "/done?q=1" || resp.URL != srv.URL+"/done?q=1" {
		t.Errorf("relative redirect: %+v, %v; want /done?q=1", resp, err)
	}
	if _, err := c.Get(context.Background(), srv.URL+"/bad"); err == nil || outbound.IsRefused(err) || !strings.Contains(err.Error(), "Location") {
		t.Errorf("unparsable Location: %v, want a (retryable) error naming it", err)
	}
}

// A chunked body past MaxBodyBytes is truncated, like a sized one.
func TestGetBoundsAChunkedBody(t *testing.T) {
	srv, _, _ := countingNoticeServer(t, func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			w.Write([]byte(strings.Repeat("x", 1000)))
			w.(http.Flusher).Flush()
		}
	})
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8"), MaxBodyBytes: 1500})
	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil || len(resp.Body) != 1500 || !resp.Truncated {
		t.Fatalf("Get: %+v, %v; want 1500 bytes, truncated", resp, err)
	}
}

// A server that never answers is cut off by the caller's context, as a
// network error (retried), not a refusal.
func TestGetIsCutOffByItsContext(t *testing.T) {
	release := make(chan struct{})
	srv, _, _ := countingNoticeServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, srv.URL+"/burl")
		done <- err
	}()
	cancel()
	if err := <-done; err == nil || outbound.IsRefused(err) || ctx.Err() == nil {
		t.Errorf("cancelled Get: %v, want a network error", err)
	}
}
