package service

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

const (
	opsCampaign = "0123456789abcdef0123456789abcdef"
	opsCreative = "fedcba9876543210fedcba9876543210"
)

// opsDSP is one dsps[] entry of an ops test config.
type opsDSP struct {
	name, endpoint, timeout string
	more                    string // extra flow-mapping entries, e.g. "breaker: {failures: 2}"
}

// writeOpsConfig writes a complete config file with the given DSPs and
// extra YAML; metrics listen on a free port.
func writeOpsConfig(t *testing.T, path, dbURL string, dsps []opsDSP, extra string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\nadshares:\n  address: 0001-00000003-AB0C\nmoney:\n  ads_usd: \"0.05\"\n")
	fmt.Fprintf(&b, "database:\n  url: %q\nmetrics:\n  listen: 127.0.0.1:0\nauction:\n  tmax: 400ms\n", dbURL)
	fmt.Fprintf(&b, "outbox:\n  poll: 50ms\n")
	fmt.Fprintf(&b, "inventory:\n  campaigns:\n    - id: %s\n      landing_url: https://landing.example/\n      creatives:\n", opsCampaign)
	fmt.Fprintf(&b, "        - {id: %s, type: image, mime: image/png, size: 300x250}\n", opsCreative)
	if len(dsps) > 0 {
		b.WriteString("dsps:\n")
	}
	for _, d := range dsps {
		more := ""
		if d.more != "" {
			more = ", " + d.more
		}
		// Loopback DSPs: the outbound URL policy refuses them unless
		// allowed (a test that wants otherwise sets allow_networks in more).
		if !strings.Contains(d.more, "allow_networks") {
			more += ", allow_networks: [127.0.0.0/8]"
		}
		fmt.Fprintf(&b, "  - {name: %s, endpoint: %q, timeout: %s%s}\n", d.name, d.endpoint, d.timeout, more)
	}
	b.WriteString(extra)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startFile starts the service from a config file, logging into logs.
func startFile(t *testing.T, path string, logs io.Writer) (*Service, func()) {
	t.Helper()
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	return svc, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func bidBody(slots int) string {
	var reqs []string
	for i := range slots {
		reqs = append(reqs, `{"request_id":"`+strconv.Itoa(i)+`","creative_id":"`+opsCreative+`"}`)
	}
	return `{"context":{"site":{"domain":"news.example.org","page":"https:\/\/news.example.org\/a"},"device":{"ip":"203.0.113.7","headers":{"user-agent":["Mozilla\/5.0"]}},"user":{"uid":"","keywords":[]}},"requests":[` + strings.Join(reqs, ",") + `]}`
}

type win struct {
	ExtID string `json:"ext_id"`
}

func postBid(t *testing.T, addr string, slots int) []win {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/bid", "application/json", strings.NewReader(bidBody(slots)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []win
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/bid = %d, %v", resp.StatusCode, err)
	}
	return out
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// scrape reads /metrics into "name{labels}" → value (labels as exposed,
// sorted by name, which the text format does).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsAfterScriptedAuctionsAndEvents(t *testing.T) {
	bidder := startSim(t, dspsim.Options{Price: "2.00"})
	decliner := startSim(t, dspsim.Options{Mode: dspsim.ModeNoBid204})
	hanger := startSim(t, dspsim.Options{Mode: dspsim.ModeHang})
	broken := startSim(t, dspsim.Options{Mode: dspsim.Mode5xx})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	writeOpsConfig(t, path, testdb.URL(t), []opsDSP{
		{"bidder", bidder.Endpoint(), "300ms", ""}, {"decliner", decliner.Endpoint(), "300ms", ""},
		{"hanger", hanger.Endpoint(), "50ms", ""}, {"broken", broken.Endpoint(), "300ms", ""},
	}, "")
	svc, stop := startFile(t, path, io.Discard)
	defer stop()

	// 4 auctions of 2 slots each (bidder wins both), 1 auction of nothing.
	var wins []win
	for range 4 {
		wins = append(wins, postBid(t, svc.Addr(), 2)...)
	}
	postBid(t, svc.Addr(), 0)
	if len(wins) != 8 {
		t.Fatalf("wins = %d, want 8", len(wins))
	}
	base := "http://" + svc.Addr()
	for _, w := range wins[:3] { // 3 first views (billed, burl enqueued) and one repeat
		if code := get(t, base+"/view?extid="+w.ExtID+"&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500"); code != 204 {
			t.Fatalf("/view = %d", code)
		}
	}
	get(t, base+"/view?extid="+wins[0].ExtID+"&cid=8c4d43f6d4ee4ca89cb4907ac0a2e501")
	get(t, base+"/click?extid="+wins[0].ExtID+"&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500")
	if code := get(t, base+"/view?extid=nosuchwin&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500"); code != 404 {
		t.Fatalf("/view of an unknown extid = %d", code)
	}
	get(t, base+"/view")                        // invalid
	get(t, base+"/no/such/path/"+wins[1].ExtID) // unmatched route

	// The outbox delivers the 3 burls in the background.
	deadline := time.Now().Add(10 * time.Second)
	for bidder.BillHits() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var m map[string]float64
	for {
		m = scrape(t, svc.MetricsAddr())
		// The outbox counts a delivery just before it marks the row
		// delivered: wait for the database's gauge too.
		if m[`bridge_outbox_deliveries_total{dsp="bidder",kind="burl",result="delivered"}`] == 3 &&
			m[`bridge_outbox_notices{dsp="bidder",status="pending"}`] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := map[string]float64{
		`bridge_auctions_total{outcome="won"}`:                                        4,
		`bridge_auctions_total{outcome="nobid"}`:                                      1,
		`bridge_auction_wins_total{dsp="bidder"}`:                                     8,
		`bridge_auction_wins_total{dsp="decliner"}`:                                   0,
		`bridge_auction_overhead_seconds_count`:                                       5,
		`bridge_auction_duration_seconds_count`:                                       5,
		`bridge_bid_duration_seconds_count{route="/bid"}`:                             5,
		`bridge_http_requests_total{code="200",route="/bid"}`:                         5,
		`bridge_http_requests_total{code="404",route="other"}`:                        1,
		`bridge_dsp_requests_total{dsp="bidder"}`:                                     4,
		`bridge_dsp_requests_total{dsp="hanger"}`:                                     4,
		`bridge_dsp_bids_total{dsp="bidder"}`:                                         8,
		`bridge_dsp_responses_total{dsp="bidder",outcome="bid"}`:                      4,
		`bridge_dsp_responses_total{dsp="decliner",outcome="nobid"}`:                  4,
		`bridge_dsp_responses_total{dsp="hanger",outcome="timeout"}`:                  4,
		`bridge_dsp_responses_total{dsp="broken",outcome="error"}`:                    4,
		`bridge_dsp_nonbids_total{dsp="decliner",reason="no_bid"}`:                    4,
		`bridge_dsp_nonbids_total{dsp="hanger",reason="timeout"}`:                     4,
		`bridge_dsp_nonbids_total{dsp="broken",reason="error"}`:                       4,
		`bridge_dsp_latency_seconds_count{dsp="bidder"}`:                              4,
		`bridge_dsp_latency_seconds_count{dsp="hanger"}`:                              4,
		`bridge_dsp_breaker_state{dsp="bidder"}`:                                      0,
		`bridge_dsp_breaker_consecutive_failures{dsp="broken"}`:                       4,
		`bridge_events_total{result="recorded",type="view"}`:                          4,
		`bridge_events_total{result="recorded",type="click"}`:                         1,
		`bridge_events_total{result="unknown",type="view"}`:                           1,
		`bridge_events_total{result="invalid",type="view"}`:                           1,
		`bridge_outbox_notices{dsp="decliner",status="pending"}`:                      0,
		`bridge_outbox_notices{dsp="bidder",status="pending"}`:                        0,
		`bridge_outbox_deliveries_total{dsp="bidder",kind="burl",result="delivered"}`: 3,
		`bridge_outbox_at_risk_nano_usd{dsp="bidder"}`:                                0,
		`bridge_db_pool_max_conns`:                                                    16, // database.max_conns 20 less database.win_conns 4
		`bridge_db_win_pool_max_conns`:                                                4,
		`bridge_config_reloads_total{result="ok"}`:                                    0,
	}
	// Delivered notices are counted, not re-counted in the database at every
	// scrape (the outbox keeps them forever).
	if _, ok := m[`bridge_outbox_notices{dsp="bidder",status="delivered"}`]; ok {
		t.Error("the outbox gauge must not count delivered notices")
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s missing", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	// A request the bridge overhead histogram saw: every auction's
	// overhead is far under a second, and the 100 µs bucket exists.
	if m[`bridge_auction_overhead_seconds_bucket{le="1"}`] != 5 {
		t.Errorf("overhead ≤1s bucket = %v, want 5", m[`bridge_auction_overhead_seconds_bucket{le="1"}`])
	}
	if _, ok := m[`bridge_bid_duration_seconds_bucket{route="/bid",le="0.0001"}`]; !ok {
		t.Error("the /bid histogram has no 100µs bucket")
	}
	if m[`bridge_payment_reports{status="processing"}`]+m[`bridge_payment_reports{status="done"}`] < 1 {
		t.Error("no payment report counted")
	}
	for k := range m {
		if strings.Contains(k, wins[1].ExtID) || strings.Contains(k, "no/such") {
			t.Errorf("a request value leaked into a label: %s", k)
		}
	}
	// pprof is off unless metrics.pprof is set.
	if code := get(t, "http://"+svc.MetricsAddr()+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof without metrics.pprof = %d, want 404", code)
	}
}

func startSim(t *testing.T, o dspsim.Options) *dspsim.Server {
	t.Helper()
	s, err := dspsim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	writeOpsConfig(t, path, testdb.URL(t), nil, "")
	t.Setenv("BRIDGE_METRICS_PPROF", "true")
	svc, stop := startFile(t, path, io.Discard)
	defer stop()
	if code := get(t, "http://"+svc.MetricsAddr()+"/debug/pprof/goroutine?debug=1"); code != 200 {
		t.Fatalf("pprof with metrics.pprof = %d, want 200", code)
	}
	// Never on the AdServer-facing port.
	if code := get(t, "http://"+svc.Addr()+"/debug/pprof/"); code != 404 {
		t.Fatalf("pprof on the bridge port = %d, want 404", code)
	}
}
