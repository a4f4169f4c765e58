package service

import (
	"context"
	"github.com/adshares/dsp-bridge/internal/testlog"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestReloadWithBrokenConfigKeepsTheOldOne(t *testing.T) {
	bidder := startSim(t, dspsim.Options{})
	other := startSim(t, dspsim.Options{})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	db := testdb.URL(t)
	writeOpsConfig(t, path, db, []opsDSP{{"bidder", bidder.Endpoint(), "300ms", ""}}, "server:\n  write_timeout: 2s\n")
	var logs testlog.Buffer
	svc, stop := startFile(t, path, &logs)
	defer stop()

	// Two problems at once: a bad endpoint for a new DSP and a bad timeout.
	writeOpsConfig(t, path, db, []opsDSP{
		{"bidder", bidder.Endpoint(), "-1s", ""}, {"other", "ftp://nowhere", "300ms", ""},
	}, "")
	err := svc.Reload(path)
	if err == nil {
		t.Fatal("Reload accepted a broken config")
	}
	var rejected []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "config reload rejected") {
			rejected = append(rejected, line)
		}
	}
	if len(rejected) < 2 || !strings.Contains(strings.Join(rejected, "\n"), "dsps[0]") ||
		!strings.Contains(strings.Join(rejected, "\n"), "dsps[1]") {
		t.Fatalf("every problem must be logged; got:\n%s", strings.Join(rejected, "\n"))
	}
	// The old DSP set still runs the auctions.
	if w := postBid(t, svc.Addr(), 1); len(w) != 1 {
		t.Fatalf("wins after a rejected reload = %d, want 1", len(w))
	}
	if bidder.RequestCount() != 1 || other.RequestCount() != 0 {
		t.Fatalf("requests: bidder %d other %d, want 1 and 0", bidder.RequestCount(), other.RequestCount())
	}
	// A config that is valid on its own but whose tmax would outlast the
	// running write timeout is refused too.
	writeOpsConfig(t, path, db, []opsDSP{{"bidder", bidder.Endpoint(), "300ms", ""}},
		"server:\n  write_timeout: 60s\n")
	os.WriteFile(path, []byte(strings.Replace(string(mustRead(t, path)), "tmax: 400ms", "tmax: 5s", 1)), 0o600)
	if err := svc.Reload(path); err == nil || !strings.Contains(logs.String(), "running server.write_timeout") {
		t.Fatalf("tmax beyond the running write timeout accepted: %v", err)
	}
	m := scrape(t, svc.MetricsAddr())
	if m[`bridge_config_reloads_total{result="error"}`] != 2 || m[`bridge_config_reloads_total{result="ok"}`] != 0 {
		t.Fatalf("reload counters: %v / %v", m[`bridge_config_reloads_total{result="error"}`], m[`bridge_config_reloads_total{result="ok"}`])
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSIGHUPWithANewDSPStartsUsingIt(t *testing.T) {
	decliner := startSim(t, dspsim.Options{Mode: dspsim.ModeNoBid204})
	newcomer := startSim(t, dspsim.Options{Price: "3.00"})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	db := testdb.URL(t)
	writeOpsConfig(t, path, db, []opsDSP{{"decliner", decliner.Endpoint(), "300ms", ""}}, "")
	var logs testlog.Buffer
	svc, stop := startFile(t, path, &logs)
	defer stop()
	if w := postBid(t, svc.Addr(), 1); len(w) != 0 {
		t.Fatalf("wins before the reload = %d, want 0", len(w))
	}

	// The same wiring as `bridge serve`: SIGHUP → ReloadOnSignal → Reload.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.ReloadOnSignal(ctx, path, hup)

	writeOpsConfig(t, path, db, []opsDSP{
		{"decliner", decliner.Endpoint(), "300ms", ""}, {"newcomer", newcomer.Endpoint(), "300ms", ""},
	}, "database:\n  max_conns: 7\n")
	// database appears twice now; keep the file valid YAML by moving the key.
	body := strings.Replace(string(mustRead(t, path)), "database:\n  max_conns: 7\n", "", 1)
	body = strings.Replace(body, "database:\n", "database:\n  max_conns: 7\n", 1)
	os.WriteFile(path, []byte(body), 0o600)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for scrape(t, svc.MetricsAddr())[`bridge_config_reloads_total{result="ok"}`] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	w := postBid(t, svc.Addr(), 1)
	if len(w) != 1 || newcomer.RequestCount() != 1 {
		t.Fatalf("after SIGHUP: wins %d, newcomer requests %d; want 1 and 1", len(w), newcomer.RequestCount())
	}
	if decliner.RequestCount() != 2 {
		t.Fatalf("decliner requests = %d, want 2 (kept)", decliner.RequestCount())
	}
	log := logs.String()
	if !strings.Contains(log, `"added":["newcomer"]`) || !strings.Contains(log, `"kept":["decliner"]`) {
		t.Errorf("reload log lacks added/kept DSPs:\n%s", log)
	}
	if !strings.Contains(log, "need a restart") || !strings.Contains(log, "database.max_conns") {
		t.Errorf("a changed database.max_conns must be logged as needing a restart:\n%s", log)
	}
	m := scrape(t, svc.MetricsAddr())
	if m[`bridge_dsp_requests_total{dsp="newcomer"}`] != 1 || m[`bridge_db_pool_max_conns`] != 16 {
		t.Errorf("metrics after reload: newcomer requests %v, pool max %v", m[`bridge_dsp_requests_total{dsp="newcomer"}`], m[`bridge_db_pool_max_conns`])
	}
}

func TestReadyzShowsBreakersAndOutbox(t *testing.T) {
	broken := startSim(t, dspsim.Options{Mode: dspsim.Mode5xx})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	writeOpsConfig(t, path, testdb.URL(t), []opsDSP{
		{"broken", broken.Endpoint(), "300ms", "breaker: {failures: 2, open_for: 1h}"},
	}, "")
	svc, stop := startFile(t, path, io.Discard)
	defer stop()
	for range 3 {
		postBid(t, svc.Addr(), 1)
	}
	if broken.RequestCount() != 2 {
		t.Fatalf("requests to the broken DSP = %d, want 2 (then its breaker opens)", broken.RequestCount())
	}
	code, body := readyz(t, svc.Addr())
	if code != 200 {
		t.Fatalf("an open breaker must not make the bridge unready: %d %v", code, body)
	}
	dsps, _ := body["dsps"].(map[string]any)
	list, _ := dsps["dsps"].([]any)
	if dsps["open"] != 1.0 || len(list) != 1 || list[0].(map[string]any)["breaker"] != "open" {
		t.Fatalf("readyz dsps = %v", body["dsps"])
	}
	if ob, _ := body["outbox"].(map[string]any); ob == nil || ob["pending"] != 0.0 {
		t.Fatalf("readyz outbox = %v", body["outbox"])
	}
	m := scrape(t, svc.MetricsAddr())
	if m[`bridge_dsp_breaker_state{dsp="broken"}`] != 2 || m[`bridge_dsp_breaker_transitions_total{dsp="broken",to="open"}`] != 1 ||
		m[`bridge_dsp_responses_total{dsp="broken",outcome="breaker_open"}`] != 1 ||
		m[`bridge_dsp_nonbids_total{dsp="broken",reason="breaker_open"}`] != 1 {
		t.Fatalf("breaker metrics: state %v transitions %v skipped %v",
			m[`bridge_dsp_breaker_state{dsp="broken"}`], m[`bridge_dsp_breaker_transitions_total{dsp="broken",to="open"}`],
			m[`bridge_dsp_responses_total{dsp="broken",outcome="breaker_open"}`])
	}
}

// A reload gives notice delivery the DSPs' new allow_networks: a burl on
// loopback is blocked (undelivered at once, counted as blocked, the DSP
// never called) while the DSP has none, and delivered once a reload
// allows loopback.
func TestReloadAppliesAllowNetworksToNotices(t *testing.T) {
	var bills atomic.Int64
	dsp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { bills.Add(1) }))
	defer dsp.Close()
	sim := startSim(t, dspsim.Options{Mode: dspsim.ModeNoBid204})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	db := testdb.URL(t)
	writeOpsConfig(t, path, db, []opsDSP{{"strict", sim.Endpoint(), "300ms", "allow_networks: []"}}, "")
	svc, stop := startFile(t, path, io.Discard)
	defer stop()

	// A win stored as the auction stores it, so that this test does not
	// depend on what the auction accepts; its burl names the loopback DSP.
	view := func(extID string) store.NoticeRow {
		t.Helper()
		ctx := context.Background()
		if err := svc.Store.InsertAuctions(ctx, []store.Auction{{ExtID: extID, AuctionID: "a-" + extID, RequestID: "0",
			CreativeID: opsCreative, DSP: "strict", PriceMicros: 1_000_000, BidCurrency: "USD", BidPrice: "1",
			BURL: dsp.URL + "/bill?ext=" + extID}}); err != nil {
			t.Fatal(err)
		}
		if code := get(t, "http://"+svc.Addr()+"/view?extid="+extID+"&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500"); code != 204 {
			t.Fatalf("/view = %d", code)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			ns, err := svc.Store.NoticesOf(ctx, extID)
			if err == nil && len(ns) == 1 && ns[0].Status != store.NoticePending {
				return ns[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("notice of %s still pending: %+v %v", extID, ns, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	const ext1, ext2 = "00000000000000000000000000000a01", "00000000000000000000000000000a02"
	if n := view(ext1); n.Status != store.NoticeUndelivered || n.LastError != "refused: 127.0.0.1 is a loopback address" {
		t.Fatalf("without allow_networks: %+v", n)
	}
	if bills.Load() != 0 {
		t.Fatal("the refused burl reached the DSP")
	}
	if m := scrape(t, svc.MetricsAddr()); m[`bridge_outbox_deliveries_total{dsp="strict",kind="burl",result="blocked"}`] != 1 {
		t.Fatalf("blocked deliveries = %v, want 1", m[`bridge_outbox_deliveries_total{dsp="strict",kind="burl",result="blocked"}`])
	}

	writeOpsConfig(t, path, db, []opsDSP{{"strict", sim.Endpoint(), "300ms", "allow_networks: [127.0.0.1/32]"}}, "")
	if err := svc.Reload(path); err != nil {
		t.Fatal(err)
	}
	if n := view(ext2); n.Status != store.NoticeDelivered || bills.Load() != 1 {
		t.Fatalf("after allowing 127.0.0.1/32: %+v, bills %d", n, bills.Load())
	}
}
