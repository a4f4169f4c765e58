package events_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
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

// The bridge process is SIGKILLed while many concurrent views are in
// flight (so that groups are being committed): every view it answered 204
// before dying is in the database, billed once.
func TestCrashDuringGroupCommitKeepsEveryAnsweredView(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bridge binary")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "bridge")
	build := exec.Command("go", "build", "-o", bin, "github.com/adshares/dsp-bridge/cmd/bridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dbURL := testdb.URL(t)
	st, err := store.Open(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const wins = 400
	var ws []store.Auction
	for i := range wins {
		ws = append(ws, store.Auction{ExtID: fmt.Sprintf("g%d", i), AuctionID: "a", RequestID: "0", CreativeID: "c",
			DSP: "sim", PriceMicros: 3_000_000, BidPrice: "3"})
	}
	if err := st.InsertAuctions(ctx, ws); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"BRIDGE_DATABASE_URL="+dbURL,
		"BRIDGE_LISTEN="+addr,
		"BRIDGE_ADSHARES_ADDRESS=0001-00000003-AB0C",
		"BRIDGE_MONEY_ADS_USD=0.05",
		`BRIDGE_DSPS=[{"name":"sim","endpoint":"http://127.0.0.1:1/bid","allow_networks":["127.0.0.0/8"]}]`,
		"BRIDGE_METRICS_LISTEN=",
		"BRIDGE_LOG_LEVEL=warn",
		"BRIDGE_EVENTS_BATCH_SIZE=16",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// 32 callers view the wins one after another; the kill comes once a
	// quarter of them were answered, with the others in flight.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		mu       sync.Mutex
		answered []string
		next     int
	)
	kill := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= wins {
					return
				}
				ext := fmt.Sprintf("g%d", i)
				resp, err := client.Get("http://" + addr + "/view?extid=" + ext + "&cid=" + cid(i) + "&ctx=e30")
				if err != nil {
					return // the bridge is gone
				}
				resp.Body.Close()
				if resp.StatusCode != 204 {
					t.Errorf("view of %s = %d", ext, resp.StatusCode)
					return
				}
				mu.Lock()
				answered = append(answered, ext)
				if len(answered) == wins/4 {
					once.Do(func() { close(kill) })
				}
				mu.Unlock()
			}
		}()
	}
	<-kill
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed = true
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(answered) < wins/4 {
		t.Fatalf("%d views answered before the kill", len(answered))
	}
	var stored int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE ext_id = ANY($1) AND type = 'view' AND value > 0`,
		answered).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(answered) {
		t.Fatalf("%d of the %d views answered 204 are stored and billed after the kill\n%s", stored, len(answered), logs.String())
	}
	var total int
	st.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'view'`).Scan(&total)
	t.Logf("%d views answered 204 before the kill, all stored; %d stored in all (the rest were committed, not yet answered)", len(answered), total)
}
