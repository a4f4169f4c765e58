package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/events"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const rate = 50_000_000 // 0.05 USD per ADS, in nano-USD

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// dsp is a loopback DSP whose burl endpoint counts hits per query string.
type dsp struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	// fail answers the next n calls with status failStatus.
	fail       atomic.Int32
	failStatus int
}

func newDSP(t testing.TB) *dsp {
	d := &dsp{hits: map[string]int{}, failStatus: 503}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.fail.Add(-1) >= 0 {
			w.WriteHeader(d.failStatus)
			return
		}
		d.mu.Lock()
		d.hits[r.URL.RawQuery]++
		d.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *dsp) total() (n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, v := range d.hits {
		n += v
	}
	return n
}

func (d *dsp) count(q string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hits[q]
}

type env struct {
	st     *store.Store
	mod    *events.Module
	srv    *httptest.Server
	worker *outbox.Worker
	clock  *testclock.Clock
	dsp    *dsp
}

func newEnv(t testing.TB, st *store.Store, spool *events.Spool) *env {
	t.Helper()
	e := &env{st: st, clock: testclock.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)), dsp: newDSP(t)}
	e.mod = events.New(st, quiet, func() int64 { return rate }, spool)
	e.mod.Now = e.clock.Now
	r := chi.NewRouter()
	e.mod.Mount(r)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	w, err := outbox.New(st, config.Outbox{Workers: 1, PerDSP: 4, Timeout: 2 * time.Second, MaxAge: time.Hour,
		BackoffBase: time.Second, BackoffMax: time.Minute, Poll: 20 * time.Millisecond}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	// The test DSP lives on loopback, which the outbound policy refuses
	// unless allowed.
	if err := w.SetDSPs([]config.DSP{{Name: "sim", AllowNetworks: []string{"127.0.0.0/8"}}}); err != nil {
		t.Fatal(err)
	}
	e.worker = w
	e.worker.Now = e.clock.Now
	return e
}

// win stores an auction whose burl carries the OpenRTB macros.
func (e *env) win(t *testing.T, extID, clickURL string) {
	t.Helper()
	err := e.st.InsertAuctions(context.Background(), []store.Auction{{ExtID: extID, AuctionID: "auc-" + extID,
		RequestID: "1", CreativeID: "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b", DSP: "sim", Seat: "s1", BidID: "b-" + extID,
		PriceMicros: 2_500_000, BidCurrency: "USD", BidPrice: "2.5",
		BURL:     e.dsp.URL + "/burl?ext=" + extID + "&price=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}",
		ClickURL: clickURL}})
	if err != nil {
		t.Fatal(err)
	}
}

func cid(n int) string { return fmt.Sprintf("%032x", n) }

func (e *env) get(t *testing.T, path, extID, caseID string) (int, map[string]any) {
	t.Helper()
	u := e.srv.URL + path + "?iid=3f1e2d3c4b5a69788796a5b4c3d2e1f0&zid=a1b2c3d4e5f60718293a4b5c6d7e8f90&extid=" +
		url.QueryEscape(extID) + "&cid=" + caseID + "&pto=0001-00000005-CBCA&pid=fa9611d2d2f74e3f89c0e18b7c401891&ctx=e30"
	if path == "/click" {
		u += "&iid=3f1e2d3c4b5a69788796a5b4c3d2e1f0"
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestViewBillsAndDeliversBURLOnceWithPrice(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.win(t, "w1", "")
	if code, _ := e.get(t, "/view", "w1", "8C4D43F6-D4EE-4CA8-9CB4-907AC0A2E500"); code != 204 {
		t.Fatalf("view = %d, want 204", code)
	}
	evs, _ := e.st.EventsOf(context.Background(), "w1")
	// 2.5 USD CPM at 0.05 USD/ADS: 2.5/1000/0.05 ADS = 0.05 ADS = 5e9 clicks.
	if len(evs) != 1 || evs[0].CaseID != "8c4d43f6d4ee4ca89cb4907ac0a2e500" || evs[0].Value != 5_000_000_000 ||
		evs[0].RateNanos != rate || evs[0].PriceMicros != 2_500_000 || evs[0].ImpressionID != "3f1e2d3c4b5a69788796a5b4c3d2e1f0" {
		t.Fatalf("events = %+v", evs)
	}
	for range 3 { // more steps deliver nothing more
		if _, err := e.worker.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.dsp.count("ext=w1&price=2.5&imp=1&bid=b-w1"); n != 1 || e.dsp.total() != 1 {
		t.Fatalf("burl hits %v, want exactly one with the price substituted", e.dsp.hits)
	}
	ns, _ := e.st.NoticesOf(context.Background(), "w1")
	if len(ns) != 1 || ns[0].Status != "delivered" || ns[0].LastStatus == nil || *ns[0].LastStatus != 204 || ns[0].DeliveredAt == nil {
		t.Fatalf("notice = %+v", ns)
	}
}

func TestThreeIdenticalViewsOneEventOneBURL(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.win(t, "w3", "")
	for range 3 {
		if code, _ := e.get(t, "/view", "w3", cid(1)); code != 204 {
			t.Fatalf("view = %d", code)
		}
		e.worker.Step(context.Background())
	}
	// Another case of the same win: recorded, not billed, no second burl.
	if code, _ := e.get(t, "/view", "w3", cid(2)); code != 204 {
		t.Fatalf("view = %d", code)
	}
	e.worker.Step(context.Background())
	if n := e.count(t, "SELECT count(*) FROM events WHERE ext_id = 'w3' AND case_id = $1", cid(1)); n != 1 {
		t.Fatalf("%d events for the repeated view, want 1", n)
	}
	if n := e.count(t, "SELECT count(*) FROM events WHERE ext_id = 'w3' AND value > 0"); n != 1 {
		t.Fatalf("%d billed views, want 1", n)
	}
	if e.dsp.total() != 1 {
		t.Fatalf("burl hits %v, want 1", e.dsp.hits)
	}
}

func TestUnknownOrMalformedExtID(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.win(t, "known", "https://adv.example/landing")
	tests := []struct {
		path, extID, cid string
		want             int
	}{
		{"/view", "nope", cid(1), 404},
		{"/view", "bad id!", cid(1), 400},
		{"/view", "", cid(1), 400},
		{"/view", "known", "xyz", 400},
		{"/click", "nope", cid(1), 204},
		{"/click", "bad id!", cid(1), 204},
		{"/click", "known", "xyz", 400},
	}
	for _, tc := range tests {
		code, body := e.get(t, tc.path, tc.extID, tc.cid)
		if code != tc.want {
			t.Errorf("%s extid=%q cid=%q: %d, want %d", tc.path, tc.extID, tc.cid, code, tc.want)
		}
		if code >= 400 && (body == nil || body["error"] == "") {
			t.Errorf("%s extid=%q: %d without a JSON error", tc.path, tc.extID, code)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM events"); n != 0 {
		t.Fatalf("%d events stored for bad calls", n)
	}
	if n := e.count(t, "SELECT count(*) FROM outbox"); n != 0 {
		t.Fatalf("%d notices stored for bad calls", n)
	}
}

func TestClickRedirectsOnlyWithAURL(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.win(t, "withurl", "https://adv.example/landing?a=1")
	e.win(t, "nourl", "")
	code, body := e.get(t, "/click", "withurl", cid(1))
	if code != 200 || body["redirect_url"] != "https://adv.example/landing?a=1" {
		t.Fatalf("click = %d %v", code, body)
	}
	if code, _ := e.get(t, "/click", "withurl", cid(1)); code != 200 {
		t.Fatalf("repeated click = %d", code)
	}
	if code, body := e.get(t, "/click", "nourl", cid(1)); code != 204 || body != nil {
		t.Fatalf("click without URL = %d %v, want 204 and no body", code, body)
	}
	if n := e.count(t, "SELECT count(*) FROM events WHERE type = 'click' AND value = 0"); n != 2 {
		t.Fatalf("%d clicks stored, want 2 (one per ext_id)", n)
	}
	if n := e.count(t, "SELECT count(*) FROM outbox"); n != 0 {
		t.Fatalf("a click enqueued %d notices", n)
	}
}

func TestDatabaseDownWithoutSpoolAnswers503Fast(t *testing.T) {
	// A pool on a port nobody listens on: every query fails to connect.
	pool, err := pgxpool.New(context.Background(), "postgres://bridge@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	e := newEnv(t, &store.Store{Pool: pool}, nil)
	start := time.Now()
	code, body := e.get(t, "/view", "w1", cid(1))
	if code != 503 || body["error"] == nil {
		t.Fatalf("view with the database down = %d %v, want 503 JSON", code, body)
	}
	// Fast means "at once rather than after the AdServer's 30 s timeout";
	// the bound is loose so a loaded machine cannot fail it.
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("503 took %s", el)
	}
	if code, _ := e.get(t, "/click", "w1", cid(1)); code != 503 {
		t.Fatalf("click with the database down = %d, want 503", code)
	}
}

func TestSpooledEventsReplayed(t *testing.T) {
	url := testdb.URL(t)
	st, err := store.Open(context.Background(), url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spool, err := events.OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	// The same spool, first in front of a dead database.
	dead, _ := pgxpool.New(context.Background(), "postgres://bridge@127.0.0.1:1/none?connect_timeout=2")
	defer dead.Close()
	down := newEnv(t, &store.Store{Pool: dead}, spool)
	for i, id := range []string{"s1", "s1", "s2", "ghost"} {
		if code, _ := down.get(t, "/view", id, cid(i%2)); code != 204 {
			t.Fatalf("spooled view = %d, want 204", code)
		}
	}
	up := newEnv(t, st, spool)
	up.win(t, "s1", "")
	up.win(t, "s2", "")
	n, err := up.mod.ReplayOnce(context.Background())
	if err != nil || n != 4 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	// s1 was viewed with two cases: one billed; s2 billed; ghost dropped.
	if got := up.count(t, "SELECT count(*) FROM events"); got != 3 {
		t.Fatalf("%d events after replay, want 3", got)
	}
	if got := up.count(t, "SELECT count(*) FROM events WHERE value > 0 AND created_at = $1", down.clock.Now()); got != 2 {
		t.Fatalf("%d billed views stamped with the spool time, want 2", got)
	}
	if got := up.count(t, "SELECT count(*) FROM outbox WHERE status = 'pending'"); got != 2 {
		t.Fatalf("%d burls enqueued, want 2", got)
	}
	if n, err := up.mod.ReplayOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("second replay: %d, %v", n, err)
	}
}
