package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// The bridge process is SIGKILLed right after it answered a view with 204;
// after a restart the view is in the database and its burl is delivered.
func TestCrashAfterViewKeepsViewAndDeliversBURL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bridge binary")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "bridge")
	build := exec.Command("go", "build", "-o", bin, "github.com/adshares/dsp-bridge/cmd/bridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	// The DSP holds the first burl call until the first bridge is dead, so
	// that a notice claimed before the kill is never acknowledged to it.
	killed := make(chan struct{})
	var mu sync.Mutex
	var hits []string
	dsp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := len(hits) == 0
		hits = append(hits, r.URL.RawQuery)
		mu.Unlock()
		if first {
			<-killed
		}
	}))
	defer dsp.Close()

	dbURL := testdb.URL(t)
	st, err := store.Open(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: "crash1", AuctionID: "a", RequestID: "0", CreativeID: "c",
		DSP: "sim", PriceMicros: 3_000_000, BidPrice: "3", BURL: dsp.URL + "/burl?p=${AUCTION_PRICE}"}}); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := append(os.Environ(),
		"BRIDGE_DATABASE_URL="+dbURL,
		"BRIDGE_LISTEN="+addr,
		"BRIDGE_ADSHARES_ADDRESS=0001-00000003-AB0C",
		"BRIDGE_MONEY_ADS_USD=0.05",
		// The DSP is on loopback, which the outbound URL policy refuses unless allowed.
		`BRIDGE_DSPS=[{"name":"sim","endpoint":"`+dsp.URL+`/bid","allow_networks":["127.0.0.0/8"]}]`,
		"BRIDGE_METRICS_LISTEN=",
		"BRIDGE_OUTBOX_TIMEOUT=500ms",
		"BRIDGE_OUTBOX_POLL=50ms",
		"BRIDGE_LOG_LEVEL=warn",
	)
	start := func() (*exec.Cmd, *bytes.Buffer) {
		var logs bytes.Buffer
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, &logs
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("bridge not ready: %v\n%s", err, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	first, _ := start()
	resp, err := http.Get("http://" + addr + "/view?iid=3f1e2d3c4b5a69788796a5b4c3d2e1f0&extid=crash1&cid=8c4d43f6-d4ee-4ca8-9cb4-907ac0a2e500&ctx=e30")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	close(killed)
	if resp.StatusCode != 204 {
		t.Fatalf("view = %d, want 204", resp.StatusCode)
	}

	second, logs := start()
	defer func() {
		second.Process.Signal(syscall.SIGTERM)
		second.Wait()
	}()
	var evs []store.Event
	if evs, err = st.EventsOf(ctx, "crash1"); err != nil || len(evs) != 1 || evs[0].Value != 6_000_000_000 {
		t.Fatalf("view after the crash: %+v, %v", evs, err)
	}
	// Delivered by the new process: at once if the dead one had not claimed
	// it, after the claim's lease (2*timeout+5s) if it had.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ns, err := st.NoticesOf(ctx, "crash1")
		if err == nil && len(ns) == 1 && ns[0].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("burl not delivered after restart: %+v %v\n%s", ns, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The operator's view of it: `bridge outbox status`.
	status := exec.Command(bin, "outbox", "status", "--format", "json")
	status.Env = env
	out, err := status.Output()
	var got struct {
		DSPs []struct {
			DSP       string `json:"dsp"`
			Delivered int    `json:"delivered"`
			Pending   int    `json:"pending"`
		} `json:"dsps"`
	}
	if err != nil || json.Unmarshal(out, &got) != nil || len(got.DSPs) != 1 || got.DSPs[0].DSP != "sim" ||
		got.DSPs[0].Delivered != 1 || got.DSPs[0].Pending != 0 {
		t.Fatalf("outbox status --format json: %v\n%s", err, out)
	}
	table := exec.Command(bin, "outbox", "status")
	table.Env = env
	if out, err := table.Output(); err != nil || !bytes.Contains(out, []byte("DELIVERED")) || !bytes.Contains(out, []byte("TOTAL")) {
		t.Fatalf("outbox status: %v\n%s", err, out)
	} else {
		t.Logf("bridge outbox status:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, q := range hits {
		if q != "p=3" {
			t.Fatalf("burl called with %q, want the price substituted", q)
		}
	}
	t.Logf("burl calls: %d (the first is the one cut by the kill, if it was claimed in time)", len(hits))
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
