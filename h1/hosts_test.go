package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// getAll GETs each target of srv's host through h and reads every answer
// to its end.
func getAll(t *testing.T, h *Hosts, addr string, targets ...string) []string {
	t.Helper()
	var got []string
	for _, target := range targets {
		resp, done, err := h.Get(context.Background(), addr, addr, target, "User-Agent", "ua/1")
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		b, err := io.ReadAll(resp.Body)
		done()
		if err != nil {
			t.Fatalf("GET %s: read: %v", target, err)
		}
		got = append(got, resp.Status+" "+string(b))
	}
	return got
}

func TestHostsGetKeepsAConnectionPerHost(t *testing.T) {
	var seen atomic.Value
	h := func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Method + " " + r.RequestURI + " " + r.Host + " " + r.UserAgent())
		if r.URL.Path == "/pixel" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write([]byte("ok " + r.URL.RawQuery))
	}
	a, aConns := countingServer(t, h)
	b, bConns := countingServer(t, h)
	hosts := NewHosts(Options{})
	aAddr, bAddr := strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")
	for i := range 3 {
		got := getAll(t, hosts, aAddr, fmt.Sprintf("/burl?i=%d", i), "/pixel")
		if got[0] != fmt.Sprintf("200 OK ok i=%d", i) || got[1] != "204 No Content " {
			t.Errorf("answers %q", got)
		}
		if s := seen.Load().(string); s != "GET /pixel "+aAddr+" ua/1" {
			t.Errorf("server saw %q", s)
		}
		getAll(t, hosts, bAddr, "/w?x=%20y")
		if s := seen.Load().(string); s != "GET /w?x=%20y "+bAddr+" ua/1" {
			t.Errorf("server saw %q", s)
		}
	}
	if n, m := aConns.Load(), bConns.Load(); n != 1 || m != 1 {
		t.Errorf("%d and %d connections for 6 and 3 sequential calls, want 1 each", n, m)
	}
}

// The dial hook decides every connection: a refusal there is the call's
// error, and nothing reaches the server.
func TestHostsDialHookDecidesEveryConnection(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	errNo := errors.New("address refused")
	var asked atomic.Value
	hosts := NewHosts(Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		asked.Store(network + " " + addr)
		return nil, errNo
	}})
	addr := strings.TrimPrefix(srv.URL, "http://")
	if _, _, err := hosts.Get(context.Background(), addr, "dsp.test", "/"); !errors.Is(err, errNo) {
		t.Errorf("refused dial: %v, want the hook's error", err)
	}
	if a := asked.Load(); a != "tcp "+addr || conns.Load() != 0 {
		t.Errorf("hook asked for %v, server saw %d connections; want tcp %s and none", a, conns.Load(), addr)
	}
}

func TestHostsRefusesControlCharactersWithoutAConnection(t *testing.T) {
	var dials atomic.Int32
	hosts := NewHosts(Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("no")
	}})
	for _, tc := range [][]string{
		{"/a\r\nX-Injected: 1", "dsp.test", "ua"},
		{"/a", "dsp.test\r\nX-Injected: 1", "ua"},
		{"/a", "dsp.test", "ua\n"},
		{"/a\x00", "dsp.test", "ua"},
	} {
		if _, _, err := hosts.Get(context.Background(), "dsp.test:80", tc[1], tc[0], "User-Agent", tc[2]); !errors.Is(err, errBadRequest) {
			t.Errorf("%q: %v, want errBadRequest", tc, err)
		}
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials for requests refused", n)
	}
}

func TestHostsKeepsAtMostMaxHostsPools(t *testing.T) {
	hosts := NewHosts(Options{})
	for i := range MaxHosts + 10 {
		hosts.pool(fmt.Sprintf("host%d.test:80", i))
	}
	last := fmt.Sprintf("host%d.test:80", MaxHosts+9)
	if n := len(hosts.pools); n != MaxHosts || hosts.pools[last] == nil {
		t.Errorf("%d pools (newest kept: %v), want %d with the newest", n, hosts.pools[last] != nil, MaxHosts)
	}
	hosts.CloseIdle()
	if n := len(hosts.pools); n != 0 {
		t.Errorf("%d pools after CloseIdle, want none", n)
	}
}

// MaxConns bounds the calls in flight: one more waits, and gives up with
// its context, without a connection.
func TestPoolMaxConnsBoundsCallsInFlight(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	addr := strings.TrimPrefix(srv.URL, "http://")
	hosts := NewHosts(Options{MaxConns: 1})
	resp, done, err := hosts.Get(context.Background(), addr, addr, "/")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := hosts.Get(ctx, addr, addr, "/"); !errors.Is(err, context.Canceled) {
		t.Errorf("second call past MaxConns: %v, want it to wait for its context", err)
	}
	io.ReadAll(resp.Body)
	done()
	if got := getAll(t, hosts, addr, "/"); got[0] != "200 OK ok" {
		t.Errorf("after the first call ended: %q", got)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// HeaderTimeout cuts off a server that never answers, although the
// caller's context has no deadline.
func TestPoolHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	addr := strings.TrimPrefix(srv.URL, "http://")
	hosts := NewHosts(Options{HeaderTimeout: 20 * time.Millisecond})
	_, _, err := hosts.Get(context.Background(), addr, addr, "/")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("hanging server: %v, want a timeout", err)
	}
}
