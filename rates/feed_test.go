package rates_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/metrics"
	"github.com/adshares/dsp-bridge/rates"
	"github.com/adshares/dsp-bridge/ratesim"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var t0 = time.Date(2024, 5, 1, 12, 0, 30, 0, time.UTC)

type fixture struct {
	st    *store.Store
	srv   *ratesim.Server
	clock *testclock.Clock
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, rate string) *fixture {
	t.Helper()
	srv := ratesim.New(rate)
	t.Cleanup(srv.Close)
	return &fixture{st: testdb.New(t), srv: srv, clock: testclock.New(t0), logs: &bytes.Buffer{}}
}

// feed builds a feed on the fixture's database, clock and rate service;
// adsUSD is money.ads_usd ("" for none).
func (fx *fixture) feed(adsUSD string) *rates.Feed {
	f := rates.New(config.Money{RateURL: fx.srv.URL(), RateRefresh: 10 * time.Minute, RateMaxAge: 6 * time.Hour, AdsUSD: adsUSD},
		fx.st, slog.New(slog.NewJSONHandler(fx.logs, nil)))
	f.Now = fx.clock.Now
	return f
}

func TestFeedFetchesStoresAndUsesTheRate(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, "0.0512")
	f := fx.feed("")
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.Nanos(); got != 51_200_000 {
		t.Fatalf("rate in use = %d nano-USD, want 51200000", got)
	}
	// The AdServer's own request: an hour ago, the "+" literal in the path.
	if reqs := fx.srv.Requests(); len(reqs) != 1 || reqs[0] != "/api/v1/exchange-rate/2024-05-01T11:00:30+00:00/USD" {
		t.Fatalf("requests = %q", reqs)
	}
	stored, err := fx.st.LatestRate(ctx)
	if err != nil || stored.Nanos != 51_200_000 || stored.Text != "0.0512" || !stored.FetchedAt.Equal(t0) ||
		!stored.AskedFor.Equal(t0.Add(-time.Hour)) || !strings.HasPrefix(stored.Source, fx.srv.URL()) {
		t.Fatalf("stored rate = %+v, %v", stored, err)
	}
	if st := f.Status(); st.State != rates.StateFresh || st.Source != rates.SourceFeed {
		t.Fatalf("status = %+v", st)
	}
	name, detail, ok := f.Check(ctx)
	if d := detail.(map[string]any); name != "ads_rate" || !ok || d["state"] != "fresh" || d["warning"] != nil || d["rate_usd"] != "0.0512" {
		t.Fatalf("check = %s %v %v", name, detail, ok)
	}

	// The next refresh picks up a new rate, exactly (no float on the way).
	fx.srv.SetRate("0.031234567")
	fx.clock.Add(10 * time.Minute)
	if err := f.FetchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.Nanos(); got != 31_234_567 {
		t.Fatalf("rate in use = %d, want 31234567", got)
	}
	var n int
	fx.st.Pool.QueryRow(ctx, `SELECT count(*) FROM ads_rates`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d rates stored, want one per fetch (2)", n)
	}
}

// scrape returns the metrics text of a registry watching the feed.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(slog.New(slog.DiscardHandler), false).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestOutageKeepsTheLastRateAndSaysSo(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, "0.0512")
	f := fx.feed("")
	m := metrics.New()
	f.Observe = m.ObserveRateFetch
	m.WatchMoney(f.Status, fx.st, 10*time.Minute, slog.New(slog.DiscardHandler))
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, m); !strings.Contains(out, "bridge_ads_rate_state 0\n") || !strings.Contains(out, "bridge_ads_rate_nano_usd 5.12e+07\n") {
		t.Fatalf("fresh feed metrics:\n%s", grep(out, "ads_rate"))
	}

	// The feed goes down: every refresh fails, the rate stays.
	fx.srv.Fail(503)
	for range 3 {
		fx.clock.Add(10 * time.Minute)
		if err := f.FetchOnce(ctx); err == nil {
			t.Fatal("a 503 counted as a rate")
		}
	}
	fx.srv.Fail(0)
	fx.srv.Answer(`{"rate":"not a number"}`)
	fx.clock.Add(10 * time.Minute)
	if err := f.FetchOnce(ctx); !errors.Is(err, rates.ErrBadRate) {
		t.Fatalf("garbage answer: %v", err)
	}
	if got := f.Nanos(); got != 51_200_000 {
		t.Fatalf("rate after failures = %d, want the last fetched 51200000", got)
	}
	st := f.Status()
	if st.State != rates.StateFailing || st.LastError == "" {
		t.Fatalf("status = %+v, want failing", st)
	}
	_, detail, ok := f.Check(ctx)
	if d := detail.(map[string]any); !ok || d["state"] != "failing" || d["warning"] == nil || d["last_error"] == nil {
		t.Fatalf("check while failing = %v %v (must stay ok with a warning)", detail, ok)
	}
	out := scrape(t, m)
	for _, line := range []string{"bridge_ads_rate_state 1\n", `bridge_ads_rate_fetches_total{result="error"} 4` + "\n",
		`bridge_ads_rate_fetches_total{result="ok"} 1` + "\n", "bridge_ads_rate_age_seconds 2400\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("metrics while failing lack %q:\n%s", line, grep(out, "ads_rate"))
		}
	}

	// Past money.rate_max_age the rate is stale: still used, said louder.
	fx.clock.Add(6 * time.Hour)
	f.FetchOnce(ctx)
	if st := f.Status(); st.State != rates.StateStale || f.Nanos() != 51_200_000 {
		t.Fatalf("after max age: %+v, rate %d", st, f.Nanos())
	}
	if out := scrape(t, m); !strings.Contains(out, "bridge_ads_rate_state 2\n") {
		t.Errorf("stale metric:\n%s", grep(out, "ads_rate"))
	}

	// Back: fresh again, at the new rate.
	fx.srv.Answer("")
	fx.srv.SetRate("0.06")
	fx.clock.Add(10 * time.Minute)
	if err := f.FetchOnce(ctx); err != nil || f.Nanos() != 60_000_000 || f.Status().State != rates.StateFresh {
		t.Fatalf("recovery: %v, rate %d, %+v", err, f.Nanos(), f.Status())
	}

	// One log line per change of state, not one per failed fetch.
	logs := fx.logs.String()
	for msg, want := range map[string]int{"ads rate feed failing": 1, "ads rate feed stale": 1, "ads rate feed ok": 2} {
		if n := strings.Count(logs, msg); n != want {
			t.Errorf("%d log lines %q, want %d:\n%s", n, msg, want, logs)
		}
	}
}

func grep(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A fresh database and a feed that does not answer: without money.ads_usd
// the bridge must not start (it could not value a view); with it, ads_usd
// stands in, flagged stale, until the feed answers.
func TestFirstStartWithoutAFeed(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, "0.0512")
	fx.srv.Fail(502)
	if err := fx.feed("").Start(ctx); !errors.Is(err, rates.ErrNoRate) {
		t.Fatalf("Start without a rate anywhere = %v, want ErrNoRate", err)
	}
	f := fx.feed("0.05")
	if err := f.Start(ctx); err != nil {
		t.Fatalf("Start with money.ads_usd: %v", err)
	}
	st := f.Status()
	if f.Nanos() != 50_000_000 || st.Source != rates.SourceConfig || st.State != rates.StateStale {
		t.Fatalf("bootstrap: rate %d, %+v", f.Nanos(), st)
	}
	if _, d, ok := f.Check(ctx); !ok || !strings.Contains(d.(map[string]any)["warning"].(string), "money.ads_usd") {
		t.Fatalf("check = %v %v", d, ok)
	}
	if !strings.Contains(fx.logs.String(), "no rate fetched yet") {
		t.Errorf("the stand-in rate is not logged:\n%s", fx.logs)
	}
	fx.srv.Fail(0)
	if err := f.FetchOnce(ctx); err != nil || f.Nanos() != 51_200_000 || f.Status().State != rates.StateFresh {
		t.Fatalf("first fetch after the outage: %v, %d, %+v", err, f.Nanos(), f.Status())
	}
}

// After a restart the stored rate is used at once, whatever the feed does
// (the fetch happens in Run, not in the way of starting).
func TestRestartStartsFromTheStoredRate(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, "0.0512")
	if err := fx.feed("").Start(ctx); err != nil {
		t.Fatal(err)
	}
	fx.srv.Fail(503)
	fx.clock.Add(time.Hour)
	f := fx.feed("0.9") // a static rate must not win over the stored one
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Nanos() != 51_200_000 || len(fx.srv.Requests()) != 1 {
		t.Fatalf("restart: rate %d after %d requests", f.Nanos(), len(fx.srv.Requests()))
	}
	if st := f.Status(); st.State != rates.StateFresh || !st.FetchedAt.Equal(t0) {
		t.Fatalf("restart status = %+v", st)
	}
}

func TestStaticRate(t *testing.T) {
	f := rates.New(config.Money{AdsUSD: "0.05"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.Nanos() != 50_000_000 || f.Status().State != rates.StateStatic {
		t.Fatalf("static: %d %+v", f.Nanos(), f.Status())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// A money.ads_usd more than twice (or less than half) the rate the last
// billed view was valued at is used, but logged as a warning: a misplaced
// decimal point pays every later view at the wrong rate. So is a fetched
// rate that jumps as far.
func TestRateJumpsAreWarnedAbout(t *testing.T) {
	fx := newFixture(t, "0.05")
	ctx := context.Background()
	if _, err := fx.st.Pool.Exec(ctx, `INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, price_micros)
		VALUES ('w1', 'a', '0', 'c', 'd', 1000000);
		INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value)
		VALUES ('w1', repeat('a', 32), 'view', 1000000, 50000000, 2000000000)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		adsUSD string
		warn   bool
	}{{"0.06", false}, {"0.5", true}, {"0.02", true}, {"0.025", false}} {
		fx.logs.Reset()
		f := rates.New(config.Money{AdsUSD: tc.adsUSD}, fx.st, slog.New(slog.NewJSONHandler(fx.logs, nil)))
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(fx.logs.String(), "factor of 2"); got != tc.warn || f.Nanos() == 0 {
			t.Errorf("ads_usd %s after 0.05: warned %v, want %v (rate in use %d)\n%s", tc.adsUSD, got, tc.warn, f.Nanos(), fx.logs)
		}
	}

	f := fx.feed("")
	if err := f.FetchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	fx.logs.Reset()
	fx.srv.SetRate("0.5")
	if err := f.FetchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fx.logs.String(), "factor of 2") || f.Nanos() != 500_000_000 {
		t.Errorf("a fetched rate 10x the last: rate %d, logs %s", f.Nanos(), fx.logs)
	}
}
