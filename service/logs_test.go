package service

import (
	"context"
	"encoding/json"
	"github.com/adshares/dsp-bridge/internal/testlog"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

// One /bid is one info line carrying what an operator follows it by, one
// view is one line, a refused body is one line; the buffered log (an
// interval longer than the test) writes every one of them by its close,
// after the service stopped.
func TestOneInfoLinePerBidAndPerView(t *testing.T) {
	dsp := startSim(t, dspsim.Options{Price: "1.00", NoBURL: true})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	writeOpsConfig(t, path, testdb.URL(t), []opsDSP{{"alpha", dsp.Endpoint(), "300ms", ""}},
		"log:\n  buffer: 65536\n  flush_interval: 10s\n")
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out := &testlog.Buffer{}
	log, closeLog := NewLogger(out, cfg.Log)
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	call := func(method, url, id, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+svc.Addr()+url, strings.NewReader(body))
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := call("POST", "/bid", "bid-1", bidBody(2))
	var wins []win
	if err := json.Unmarshal(body, &wins); err != nil || code != 200 || len(wins) != 2 {
		t.Fatalf("/bid = %d %s, want 2 wins", code, body)
	}
	if code, _ := call("GET", "/view?extid="+wins[0].ExtID+"&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500", "view-1", ""); code != 204 {
		t.Fatalf("/view = %d", code)
	}
	if code, _ := call("POST", "/bid", "bad-1", "{"); code != 400 {
		t.Fatalf("bad /bid = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}

	byID := map[string][]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if id, _ := m["request_id"].(string); id != "" {
			byID[id] = append(byID[id], m)
		}
	}
	if len(byID) != 3 {
		t.Fatalf("lines of %d requests, want 3: %v", len(byID), byID)
	}
	one := func(id, msg string) map[string]any {
		t.Helper()
		if len(byID[id]) != 1 {
			t.Fatalf("request %s logged %d lines, want one: %v", id, len(byID[id]), byID[id])
		}
		m := byID[id][0]
		if m["msg"] != msg || m["level"] != "INFO" {
			t.Fatalf("request %s: %v, want one %q info line", id, m, msg)
		}
		if _, ok := m["duration_ms"].(float64); !ok {
			t.Errorf("request %s line has no duration_ms: %v", id, m)
		}
		return m
	}
	a := one("bid-1", "auction")
	extIDs, _ := a["ext_ids"].([]any)
	dsps, _ := a["dsps"].(map[string]any)
	if a["path"] != "/bid" || a["status"] != 200.0 || a["slots"] != 2.0 || a["wins"] != 2.0 || a["outcome"] != "won" ||
		a["dsps_called"] != 1.0 || dsps["alpha"] != "bid" || a["auction_id"] == "" || len(extIDs) != 2 || extIDs[0] != wins[0].ExtID {
		t.Errorf("the auction line lacks what an operator needs: %v", a)
	}
	if _, ok := a["auction_ms"].(float64); !ok {
		t.Errorf("the auction line has no auction_ms: %v", a)
	}
	v := one("view-1", "event recorded")
	if v["path"] != "/view" || v["status"] != 204.0 || v["ext_id"] != wins[0].ExtID || v["dsp"] != "alpha" || v["type"] != "view" {
		t.Errorf("the view line: %v", v)
	}
	if b := one("bad-1", "request"); b["status"] != 400.0 {
		t.Errorf("the refused /bid line: %v", b)
	}
}
