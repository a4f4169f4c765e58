package bridge

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/config"
)

func testConfig() *config.Config {
	return &config.Config{Server: config.Server{MaxBodyBytes: 1024, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second}}
}

// testModule has endpoints that misbehave on purpose.
type testModule struct{ slowStarted, stuckStarted, stuckCancelled chan struct{} }

func (m testModule) Mount(r chi.Router) {
	r.Get("/panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	r.Get("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(m.slowStarted)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	r.Get("/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(m.stuckStarted)
		<-r.Context().Done() // like a query waiting on a hung database
		close(m.stuckCancelled)
	})
	r.Post("/echo", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func newTestServer(checks ...ReadinessCheck) (*Server, testModule) {
	m := testModule{slowStarted: make(chan struct{}), stuckStarted: make(chan struct{}), stuckCancelled: make(chan struct{})}
	return NewServer(testConfig(), slog.New(slog.NewJSONHandler(io.Discard, nil)), checks, m), m
}

func TestPanicBecomes500AndServerLives(t *testing.T) {
	s, _ := newTestServer()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("panic status = %d, want 500", resp.StatusCode)
	}
	resp, err = http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after panic: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestBodyLimit(t *testing.T) {
	s, _ := newTestServer()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/echo", "application/json", strings.NewReader(strings.Repeat("x", 2048)))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(body["error"], "1024") {
		t.Fatalf("oversized body: %d %v, want 413 with a reason", resp.StatusCode, body)
	}
	resp, _ = http.Post(ts.URL+"/echo", "application/json", strings.NewReader("small"))
	if resp.StatusCode != 204 {
		t.Fatalf("small body: %d", resp.StatusCode)
	}
}

func TestRequestIDAndJSON404(t *testing.T) {
	s, _ := newTestServer()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("404: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(resp.Header.Get(RequestIDHeader)) != 16 {
		t.Fatalf("request id %q", resp.Header.Get(RequestIDHeader))
	}
}

func TestReadyzReflectsChecks(t *testing.T) {
	ok := true
	s, _ := newTestServer(func(ctx context.Context) (string, any, bool) { return "thing", map[string]bool{"ok": ok}, ok })
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, want := range []int{200, 503, 200} {
		ok = want == 200
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want || body["thing"] == nil {
			t.Fatalf("readyz = %d %v, want %d", resp.StatusCode, body, want)
		}
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	s, m := newTestServer()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	<-m.slowStarted
	cancel() // SIGTERM arrives while /slow is in flight

	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v; want it finished", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func TestShutdownCutsOffRequestsPastTheTimeout(t *testing.T) {
	s, m := newTestServer()
	s.cfg.Server.ShutdownTimeout = 100 * time.Millisecond
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	go http.Get("http://" + l.Addr().String() + "/stuck")
	<-m.stuckStarted
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	select {
	case <-m.stuckCancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("a request still running after the shutdown timeout was never cancelled")
	}
}
