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
	"testing"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testcfg"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const (
	creativePNG   = testcfg.CreativePNG
	creativeJPEG  = testcfg.CreativeJPEG
	creativeVideo = testcfg.CreativeVideo
	campaignID    = testcfg.CampaignID
	bridgeAddr    = testcfg.BridgeAddr
	baseURL       = testcfg.BaseURL
)

var (
	auctionConfig = testcfg.Config
	testDSP       = testcfg.DSP
)

// env is a bridge with the auction capability on a real test database,
// served over loopback HTTP.
type env struct {
	t      testing.TB
	cfg    *config.Config
	st     *store.Store
	demand *Demand
	url    string
}

var discard = slog.New(slog.DiscardHandler)

func newEnv(t testing.TB, cfg *config.Config) *env {
	t.Helper()
	st := testdb.New(t)
	d, err := NewDemand(context.Background(), cfg, st, discard, DemandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	srv := NewServer(cfg, discard, nil, d)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{t: t, cfg: cfg, st: st, demand: d, url: ts.URL}
}

// post sends body to path and returns the status and the raw body.
func (e *env) post(path, body string) (int, []byte) {
	e.t.Helper()
	resp, err := http.Post(e.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("POST %s: read: %v", path, err)
	}
	return resp.StatusCode, raw
}

// bid posts a /bid body and decodes a 200 answer.
func (e *env) bid(body string) []bidAnswer {
	e.t.Helper()
	status, raw := e.post("/bid", body)
	if status != 200 {
		e.t.Fatalf("/bid status %d: %s", status, raw)
	}
	var out []bidAnswer
	if err := json.Unmarshal(raw, &out); err != nil || out == nil {
		e.t.Fatalf("/bid answer %q is not a JSON array: %v", raw, err)
	}
	return out
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
