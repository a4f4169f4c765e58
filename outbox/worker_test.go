package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// endpoint is a loopback DSP notice endpoint: it answers the scripted
// statuses first, then 200, and counts successful hits per path.
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	script []int
	calls  int
	ok     map[string]int
}

func newEndpoint(t *testing.T, script ...int) *endpoint {
	e := &endpoint{script: script, ok: map[string]int{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.calls++
		status := 200
		if len(e.script) > 0 {
			status, e.script = e.script[0], e.script[1:]
		}
		if status < 300 {
			e.ok[r.URL.Path]++
		}
		e.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) stats() (calls int, ok map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cp := map[string]int{}
	for k, v := range e.ok {
		cp[k] = v
	}
	return e.calls, cp
}

var testOutbox = config.Outbox{Workers: 2, PerDSP: 8, Timeout: 2 * time.Second, MaxAge: time.Hour,
	BackoffBase: time.Second, BackoffMax: time.Minute, Poll: 10 * time.Millisecond}

// loopbackDSPs are the test DSPs whose endpoints live on loopback: the
// outbound policy refuses them unless allow_networks says otherwise.
var loopbackDSPs = []string{"sim", "one", "dsp0", "dsp1", "dsp2"}

func newWorker(t *testing.T, st *store.Store, c *testclock.Clock) *outbox.Worker {
	t.Helper()
	w, err := outbox.New(st, testOutbox, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var dsps []config.DSP
	for _, name := range loopbackDSPs {
		dsps = append(dsps, config.DSP{Name: name, AllowNetworks: []string{"127.0.0.0/8"}})
	}
	if err := w.SetDSPs(dsps); err != nil {
		t.Fatal(err)
	}
	if c != nil {
		w.Now = c.Now
	}
	return w
}

// enqueue stores a win and its billed view, which enqueues a burl to url.
func enqueue(t *testing.T, st *store.Store, extID, dsp, url string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: extID, AuctionID: "a", RequestID: "0", CreativeID: "c",
		DSP: dsp, PriceMicros: 1_000_000, BURL: url}}); err != nil {
		t.Fatal(err)
	}
	res, err := st.RecordView(ctx, store.Event{ExtID: extID, CaseID: fmt.Sprintf("%032x", 1), Type: "view",
		PriceMicros: 1_000_000, RateNanos: 50_000_000, Value: 2_000_000_000, CreatedAt: at}, dsp, url)
	if err != nil || res.NoticeID == 0 {
		t.Fatalf("enqueue %s: %+v %v", extID, res, err)
	}
}

func notice(t *testing.T, st *store.Store, extID string) store.NoticeRow {
	t.Helper()
	ns, err := st.NoticesOf(context.Background(), extID)
	if err != nil || len(ns) != 1 {
		t.Fatalf("notices of %s: %v %v", extID, ns, err)
	}
	return ns[0]
}

func TestRetriesOn503ThenDeliversOnce(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	c := testclock.New(t0)
	dsp := newEndpoint(t, 503, 503)
	enqueue(t, st, "r1", "sim", dsp.URL+"/burl/r1", t0)
	w := newWorker(t, st, c)

	w.Step(ctx) // 503
	n := notice(t, st, "r1")
	if n.Status != "pending" || n.Attempts != 1 || *n.LastStatus != 503 || !n.NextAttempt.After(t0) {
		t.Fatalf("after first 503: %+v", n)
	}
	// Not due yet: nothing happens without the clock moving.
	if got, _ := w.Step(ctx); got != 0 {
		t.Fatalf("claimed %d before the backoff passed", got)
	}
	first := n.NextAttempt.Sub(t0)
	c.Add(time.Minute)
	w.Step(ctx) // 503 again
	n = notice(t, st, "r1")
	if n.Attempts != 2 || n.Status != "pending" {
		t.Fatalf("after second 503: %+v", n)
	}
	if second := n.NextAttempt.Sub(c.Now()); second <= first/2 || second > 2*time.Second {
		t.Fatalf("backoff after 2 failures = %s (after 1: %s); want in (base, 2*base]", second, first)
	}
	c.Add(time.Minute)
	w.Step(ctx) // 200
	for range 3 {
		c.Add(time.Hour / 2)
		w.Step(ctx)
	}
	calls, ok := dsp.stats()
	n = notice(t, st, "r1")
	if calls != 3 || ok["/burl/r1"] != 1 || n.Status != "delivered" || n.Attempts != 3 || *n.LastStatus != 200 {
		t.Fatalf("calls %d, ok %v, notice %+v; want 3 calls, one success, delivered", calls, ok, n)
	}
}

func TestClientErrorIsNotRetried(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	c := testclock.New(t0)
	dsp := newEndpoint(t, 404, 404, 404)
	enqueue(t, st, "f1", "sim", dsp.URL+"/burl/f1", t0)
	w := newWorker(t, st, c)
	for range 3 {
		w.Step(ctx)
		c.Add(10 * time.Minute)
	}
	calls, _ := dsp.stats()
	n := notice(t, st, "f1")
	if calls != 1 || n.Status != "undelivered" || *n.LastStatus != 404 || n.Attempts != 1 {
		t.Fatalf("calls %d, notice %+v; want one call and undelivered with 404", calls, n)
	}
}

func TestOldNoticeBecomesUndelivered(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	c := testclock.New(t0)
	fails := make([]int, 200)
	for i := range fails {
		fails[i] = 500
	}
	dsp := newEndpoint(t, fails...)
	// One notice that is already older than max age when first seen (the
	// bridge was down a long time) and one that keeps failing until it is.
	enqueue(t, st, "old", "sim", dsp.URL+"/burl/old", t0.Add(-2*time.Hour))
	enqueue(t, st, "flaky", "sim", dsp.URL+"/burl/flaky", t0)
	w := newWorker(t, st, c)
	for range 100 {
		w.Step(ctx)
		if notice(t, st, "flaky").Status != "pending" {
			break
		}
		c.Add(time.Minute)
	}
	old := notice(t, st, "old")
	if old.Status != "undelivered" || old.Attempts != 0 || !strings.Contains(old.LastError, "max_age") {
		t.Fatalf("old notice = %+v; want undelivered without a call", old)
	}
	flaky := notice(t, st, "flaky")
	if flaky.Status != "undelivered" || !strings.Contains(flaky.LastError, "max") || *flaky.LastStatus != 500 {
		t.Fatalf("flaky notice = %+v; want undelivered after max age", flaky)
	}
	if c.Now().Sub(t0) > time.Hour {
		t.Fatalf("gave up at %s, after max age", c.Now().Sub(t0))
	}
	calls, ok := dsp.stats()
	if len(ok) != 0 || calls != flaky.Attempts {
		t.Fatalf("calls %d (ok %v), attempts %d", calls, ok, flaky.Attempts)
	}
	stats, _ := st.OutboxStatsByDSP(ctx)
	if len(stats) != 1 || stats[0].Undelivered != 2 || stats[0].AtRiskClicks != 4_000_000_000 {
		t.Fatalf("stats = %+v", stats)
	}
}

// Two workers, each with its own connection pool (two bridge instances),
// deliver many notices concurrently: every notice exactly once.
func TestTwoWorkersNeverDeliverTwice(t *testing.T) {
	url := testdb.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := store.Open(ctx, url, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, url, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dsps := []*endpoint{newEndpoint(t), newEndpoint(t), newEndpoint(t)}
	const total = 300
	for i := range total {
		d := dsps[i%len(dsps)]
		enqueue(t, a, fmt.Sprintf("m%d", i), fmt.Sprintf("dsp%d", i%len(dsps)), fmt.Sprintf("%s/burl/m%d", d.URL, i), time.Now())
	}
	var byWorker [2]atomic.Int64
	var wg sync.WaitGroup
	for i, st := range []*store.Store{a, b} {
		w := newWorker(t, st, nil)
		w.PerDSP = 4
		w.Observe = func(_, _, result string) {
			if result == "delivered" {
				byWorker[i].Add(1)
			}
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pending int
		a.Pool.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE status <> 'delivered'").Scan(&pending)
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notices still not delivered", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	sum := 0
	for _, d := range dsps {
		_, ok := d.stats()
		for path, n := range ok {
			if n != 1 {
				t.Errorf("%s delivered %d times", path, n)
			}
			sum += n
		}
	}
	if sum != total {
		t.Fatalf("%d deliveries, want %d", sum, total)
	}
	if got := byWorker[0].Load() + byWorker[1].Load(); got != total {
		t.Fatalf("workers counted %d deliveries, want %d", got, total)
	}
	t.Logf("worker A delivered %d notices, worker B %d", byWorker[0].Load(), byWorker[1].Load())
}

// The per-DSP bound holds: never more than PerDSP calls in flight to a DSP.
func TestPerDSPConcurrencyBound(t *testing.T) {
	st := testdb.New(t)
	var inflight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond) // hold the slot so that calls overlap
		inflight.Add(-1)
	}))
	defer srv.Close()
	for i := range 40 {
		enqueue(t, st, fmt.Sprintf("p%d", i), "one", srv.URL+fmt.Sprintf("/b%d", i), time.Now())
	}
	w := newWorker(t, st, nil)
	w.PerDSP = 3
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left int
		st.Pool.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE status = 'pending'").Scan(&left)
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency %d, want at most 3 (and overlap)", p)
	}
}

// On shutdown a delivery in flight finishes and its outcome is recorded.
func TestStopLetsInFlightDeliveryFinish(t *testing.T) {
	st := testdb.New(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	defer srv.Close()
	enqueue(t, st, "s1", "sim", srv.URL+"/b", time.Now())
	w := newWorker(t, st, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	<-entered
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a delivery in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
	if n := notice(t, st, "s1"); n.Status != "delivered" {
		t.Fatalf("notice after stop = %+v, want delivered", n)
	}
}

func TestWriteStatus(t *testing.T) {
	old := t0.Add(-90 * time.Second)
	stats := []store.OutboxStats{
		{DSP: "alpha", Pending: 3, Retrying: 1, Delivered: 120, Undelivered: 2, AtRiskClicks: 10_000_000_000, AtRiskNanoUSD: 5_000_000, OldestPending: &old},
		{DSP: "beta-longer-name", Delivered: 7},
	}
	var buf bytes.Buffer
	if err := outbox.WriteStatus(&buf, stats, "table", t0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "PENDING") || !strings.HasPrefix(strings.TrimSpace(lines[3]), "TOTAL") {
		t.Fatalf("table:\n%s", buf.String())
	}
	// Aligned: every row is as wide as the header.
	for _, l := range lines {
		if len(l) != len(lines[0]) {
			t.Fatalf("rows not aligned:\n%s", buf.String())
		}
	}
	if !strings.Contains(lines[1], "0.005") || !strings.Contains(lines[1], "1m30s") || !strings.Contains(lines[3], "127") {
		t.Fatalf("table content:\n%s", buf.String())
	}
	buf.Reset()
	if err := outbox.WriteStatus(&buf, stats, "json", t0); err != nil {
		t.Fatal(err)
	}
	var got struct {
		DSPs  []map[string]any `json:"dsps"`
		Total map[string]any   `json:"total"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.DSPs) != 2 || got.Total["pending"] != 3.0 || got.Total["delivered"] != 127.0 || got.DSPs[0]["at_risk_usd"] != "0.005" {
		t.Fatalf("json = %s", buf.String())
	}
	if err := outbox.WriteStatus(&buf, stats, "xml", t0); err == nil {
		t.Fatal("unknown format accepted")
	}
}
