package outbox_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/outbox"
)

// results counts Observe calls per result.
type results struct {
	mu sync.Mutex
	n  map[string]int
}

func observe(w *outbox.Worker) *results {
	r := &results{n: map[string]int{}}
	w.Observe = func(_, _, result string) {
		r.mu.Lock()
		r.n[result]++
		r.mu.Unlock()
	}
	return r
}

func (r *results) get(result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[result]
}

// A notice whose URL the outbound policy refuses is undelivered at once,
// with the reason, counted as blocked, and never tried again; the canary
// it names sees nothing. The same URL is delivered for a DSP that allows
// loopback.
func TestRefusedURLIsUndeliveredAndNeverRetried(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	c := testclock.New(t0)
	canary := newEndpoint(t)
	// "strict" has no allow_networks; "sim" allows 127.0.0.0/8.
	enqueue(t, st, "b1", "strict", canary.URL+"/burl/b1", t0)
	enqueue(t, st, "b2", "strict", "gopher://dsp.example/burl/b2", t0)
	enqueue(t, st, "b3", "strict", "http://169.254.169.254/latest/meta-data/", t0)
	enqueue(t, st, "ok", "sim", canary.URL+"/burl/ok", t0)
	w := newWorker(t, st, c)
	seen := observe(w)
	for range 5 {
		w.Step(ctx)
		c.Add(10 * time.Minute)
	}
	for ext, reason := range map[string]string{
		"b1": "refused: 127.0.0.1 is a loopback address",
		"b2": `refused: scheme "gopher" is not http or https`,
		"b3": "refused: 169.254.169.254 is the cloud metadata address (link-local)",
	} {
		n := notice(t, st, ext)
		if n.Status != "undelivered" || n.LastError != reason || n.Attempts != 0 || n.LastStatus != nil {
			t.Errorf("%s: %+v; want undelivered with %q and no attempt", ext, n, reason)
		}
	}
	if n := notice(t, st, "ok"); n.Status != "delivered" {
		t.Fatalf("the allowed DSP's notice: %+v", n)
	}
	calls, ok := canary.stats()
	if calls != 1 || ok["/burl/ok"] != 1 || ok["/burl/b1"] != 0 {
		t.Fatalf("canary: %d calls, %v; want only the allowed DSP's one", calls, ok)
	}
	if seen.get("blocked") != 3 || seen.get("retry") != 0 || seen.get("delivered") != 1 {
		t.Fatalf("outcomes = %v; want 3 blocked, 1 delivered, no retry", seen.n)
	}
}

// A redirect into a refused network is blocked (one attempt: the first
// request was sent) and the target is never reached; more than three
// redirects are blocked too.
func TestRedirectIntoRefusedNetworkIsBlocked(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	canary := newEndpoint(t)
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (a second loopback address): %v", err)
	}
	var redirects atomic.Int64
	tracker := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, "/loop", http.StatusFound)
			return
		}
		http.Redirect(w, r, canary.URL+"/burl/leak", http.StatusFound)
	}))
	tracker.Listener.Close()
	tracker.Listener = l
	tracker.Start()
	defer tracker.Close()

	enqueue(t, st, "r1", "tracked", tracker.URL+"/t?b=r1", t0)
	enqueue(t, st, "r2", "tracked", tracker.URL+"/loop", t0)
	w, err := outbox.New(st, testOutbox, quiet)
	if err != nil {
		t.Fatal(err)
	}
	// Allowed to reach the tracker's address only.
	if err := w.SetDSPs([]config.DSP{{Name: "tracked", AllowNetworks: []string{"127.0.0.2/32"}}}); err != nil {
		t.Fatal(err)
	}
	w.Now = testclock.New(t0).Now
	w.Step(ctx)
	n := notice(t, st, "r1")
	if n.Status != "undelivered" || n.Attempts != 1 || n.LastError != "refused: 127.0.0.1 is a loopback address (at redirect 1)" {
		t.Fatalf("redirected notice = %+v", n)
	}
	n = notice(t, st, "r2")
	if n.Status != "undelivered" || !strings.Contains(n.LastError, "more than 3 redirects") {
		t.Fatalf("redirect loop notice = %+v", n)
	}
	if calls, _ := canary.stats(); calls != 0 {
		t.Fatalf("the redirect target was called %d times", calls)
	}
	if got := redirects.Load(); got != 1+4 {
		t.Fatalf("tracker hits = %d, want 5 (one for r1, four for r2)", got)
	}
}

// SetDSPs changes a DSP's allow list for the notices claimed after it.
func TestSetDSPsAppliesNewAllowList(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	dsp := newEndpoint(t)
	w, err := outbox.New(st, testOutbox, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w.Now = testclock.New(t0).Now
	enqueue(t, st, "before", "late", dsp.URL+"/burl/before", t0)
	w.Step(ctx)
	if n := notice(t, st, "before"); n.Status != "undelivered" {
		t.Fatalf("before allow_networks: %+v", n)
	}
	if err := w.SetDSPs([]config.DSP{{Name: "late", AllowNetworks: []string{"127.0.0.1/32"}}}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, st, "after", "late", dsp.URL+"/burl/after", t0)
	w.Step(ctx)
	if n := notice(t, st, "after"); n.Status != "delivered" {
		t.Fatalf("after allow_networks: %+v", n)
	}
	if err := w.SetDSPs([]config.DSP{{Name: "late", AllowNetworks: []string{"bogus"}}}); err == nil {
		t.Fatal("a bad allow list was accepted")
	}
	// The bad list changed nothing.
	enqueue(t, st, "still", "late", dsp.URL+"/burl/still", t0)
	w.Step(ctx)
	if n := notice(t, st, "still"); n.Status != "delivered" {
		t.Fatalf("after a rejected allow list: %+v", n)
	}
}

// With outbox.proxy set, notices go through it, names unresolved by us.
func TestNoticesGoThroughTheConfiguredProxy(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	var seen atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.String())
	}))
	defer proxy.Close()
	cfg := testOutbox
	cfg.Proxy = proxy.URL
	w, err := outbox.New(st, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w.Now = testclock.New(t0).Now
	enqueue(t, st, "p1", "far", "http://dsp.example/burl?ext=p1", t0)
	w.Step(ctx)
	if n := notice(t, st, "p1"); n.Status != "delivered" || seen.Load() != "http://dsp.example/burl?ext=p1" {
		t.Fatalf("notice %+v, proxy saw %v", n, seen.Load())
	}
	cfg.Proxy = "ftp://" + strings.TrimPrefix(proxy.URL, "http://")
	if _, err := outbox.New(st, cfg, quiet); err == nil {
		t.Fatal("a bad proxy URL was accepted")
	}
}
