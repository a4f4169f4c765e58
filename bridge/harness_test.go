package bridge

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/inventory"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const (
	creativePNG   = "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b" // image/png 300x250
	creativeJPEG  = "0c1d2e3f405162738495a6b7c8d9eaf0" // image/jpeg 728x90
	creativeVideo = "a1b2c3d4e5f60718293a4b5c6d7e8f90" // video/mp4 640x360
	campaignID    = "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50"
	bridgeAddr    = "0001-00000003-AB0C"
	baseURL       = "http://127.0.0.1:8015"
)

func boolp(b bool) *bool { return &b }

// auctionConfig is a valid bridge config with the given DSPs and a breaker
// that stays out of the way unless a test turns it on.
func auctionConfig(dsps ...config.DSP) *config.Config {
	cfg := &config.Config{
		Listen: "127.0.0.1:8015", BaseURL: baseURL,
		Server:   config.Server{MaxBodyBytes: 64 << 10, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, ShutdownTimeout: time.Second},
		Adshares: config.Adshares{Address: bridgeAddr},
		Auction: config.Auction{TMax: time.Second, MaxConcurrent: 64, BidFloor: "0",
			Breaker: config.Breaker{Enabled: boolp(false), Failures: 5, OpenFor: 10 * time.Second, HalfOpenRequests: 1}},
		Money: config.Money{AdsUSD: "0.05", Rates: map[string]string{"KRW": "0.00075", "EUR": "1.08"}},
		Inventory: config.Inventory{
			Classifier: "0001000000081a67",
			Keywords:   map[string][]string{"category": {"unknown"}, "quality": {"high"}},
			Campaigns: []config.Campaign{{
				ID: campaignID, Budget: config.DefaultCampaignBudget, MaxCPM: config.DefaultCampaignMaxCPM, LandingURL: baseURL,
				Creatives: []config.Creative{
					{ID: creativePNG, Type: "image", Mime: "image/png", Size: "300x250"},
					{ID: creativeJPEG, Type: "image", Mime: "image/jpeg", Size: "728x90"},
					{ID: creativeVideo, Type: "video", Mime: "video/mp4", Size: "640x360"},
				},
			}},
		},
	}
	for _, d := range dsps {
		cfg.DSPs = append(cfg.DSPs, d)
	}
	return cfg
}

// testDSP is a DSP entry with the defaults config.Load would fill in.
func testDSP(name, endpoint string) config.DSP {
	return config.DSP{Name: name, Endpoint: endpoint, Timeout: 800 * time.Millisecond, Dialect: "2.6", Currency: "USD",
		MaxConns: 64, Breaker: config.Breaker{Enabled: boolp(false), Failures: 5, OpenFor: 10 * time.Second, HalfOpenRequests: 1}}
}

// recorder is an Observer that keeps everything, for assertions.
type recorder struct {
	mu       sync.Mutex
	auctions []*AuctionResult
	dsps     []DSPResult
	rejected []Rejection
}

func (r *recorder) ObserveDSP(d DSPResult) { r.mu.Lock(); r.dsps = append(r.dsps, d); r.mu.Unlock() }
func (r *recorder) ObserveRejection(x Rejection) {
	r.mu.Lock()
	r.rejected = append(r.rejected, x)
	r.mu.Unlock()
}
func (r *recorder) ObserveAuction(a *AuctionResult) {
	r.mu.Lock()
	r.auctions = append(r.auctions, a)
	r.mu.Unlock()
}

func (r *recorder) last(t *testing.T) *AuctionResult {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.auctions) == 0 {
		t.Fatal("no auction observed")
	}
	return r.auctions[len(r.auctions)-1]
}

// env is a bridge with the auction capability on a real test database,
// served over loopback HTTP.
type env struct {
	t      testing.TB
	cfg    *config.Config
	st     *store.Store
	demand *Demand
	obs    *recorder
	url    string
}

var discard = slog.New(slog.NewJSONHandler(io.Discard, nil))

func newEnv(t testing.TB, cfg *config.Config) *env {
	t.Helper()
	return newEnvWithStore(t, cfg, testdb.New(t))
}

func newEnvWithStore(t testing.TB, cfg *config.Config, st *store.Store) *env {
	t.Helper()
	obs := &recorder{}
	d, err := NewDemand(context.Background(), cfg, st, discard, DemandOptions{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	srv := NewServer(cfg, discard, nil, d)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, cfg: cfg, st: st, demand: d, obs: obs, url: ts.URL}
}

// post sends body to path and returns status, raw body and the time taken.
func (e *env) post(path, body string) (int, []byte, time.Duration) {
	e.t.Helper()
	start := time.Now()
	resp, err := http.Post(e.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("POST %s: read: %v", path, err)
	}
	return resp.StatusCode, raw, time.Since(start)
}

// bid posts a /bid body and decodes a 200 answer.
func (e *env) bid(body string) ([]bidAnswer, time.Duration) {
	e.t.Helper()
	status, raw, took := e.post("/bid", body)
	if status != 200 {
		e.t.Fatalf("/bid status %d: %s", status, raw)
	}
	var out []bidAnswer
	if err := json.Unmarshal(raw, &out); err != nil || out == nil {
		e.t.Fatalf("/bid answer %q is not a JSON array: %v", raw, err)
	}
	return out, took
}

// simpleBid is a /bid body with one slot per creative id.
func simpleBid(creatives ...string) string {
	var reqs []string
	for i, c := range creatives {
		reqs = append(reqs, `{"request_id":"`+itoa(i)+`","creative_id":"`+c+`"}`)
	}
	return `{"context":{"site":{"domain":"news.example.org","page":"https:\/\/news.example.org\/a"},"device":{"ip":"203.0.113.7","headers":{"user-agent":["Mozilla\/5.0"]}},"user":{"uid":"","keywords":[]}},"requests":[` + strings.Join(reqs, ",") + `]}`
}

func itoa(i int) string { return strconv.Itoa(i) }

func creativeOf(id, typ, mime, size string) *inventory.Creative {
	w, h, _ := config.ParseSize(size)
	return &inventory.Creative{ID: id, Type: typ, Mime: mime, Size: size, W: w, H: h}
}
