package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func testConfig(t *testing.T, dbURL string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	body := "listen: 127.0.0.1:0\nmetrics:\n  listen: 127.0.0.1:0\nadshares:\n  address: 0001-00000003-AB0C\nmoney:\n  ads_usd: \"0.05\"\ndatabase:\n  url: " + dbURL + "\n"
	os.WriteFile(p, []byte(body), 0o600)
	cfg, _, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func start(t *testing.T, cfg *config.Config) (*Service, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
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

func readyz(t *testing.T, addr string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestReadyzFollowsTheDatabase(t *testing.T) {
	cluster := testdb.NewCluster(t)
	svc, stop := start(t, testConfig(t, cluster.URL("postgres")))
	defer stop()

	if code, body := readyz(t, svc.Addr()); code != 200 {
		t.Fatalf("readyz with database up = %d %v", code, body)
	}
	cluster.StopServer()
	code, body := readyz(t, svc.Addr())
	if code != 503 {
		t.Fatalf("readyz with database down = %d %v, want 503", code, body)
	}
	if db, _ := body["database"].(map[string]any); db == nil || db["reason"] == nil {
		t.Fatalf("readyz body lacks the database reason: %v", body)
	}
	// The other parts still answer: breakers need no database, and the
	// outbox says why it has no backlog figure.
	if d, _ := body["dsps"].(map[string]any); d == nil || d["ok"] != true {
		t.Fatalf("readyz dsps part with the database down: %v", body["dsps"])
	}
	if ob, _ := body["outbox"].(map[string]any); ob == nil || ob["error"] == nil {
		t.Fatalf("readyz outbox part with the database down: %v", body["outbox"])
	}
	if resp, err := http.Get("http://" + svc.Addr() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz must stay 200 while the database is down: %v %v", resp, err)
	}
	if err := cluster.StartServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = readyz(t, svc.Addr())
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the database came back = %d %v", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestReadyzUnreadyWithPendingMigrations(t *testing.T) {
	url := testdb.URL(t)
	svc, stop := start(t, testConfig(t, url))
	defer stop()
	if _, err := svc.Store.Pool.Exec(context.Background(), "DELETE FROM schema_migrations WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(t, svc.Addr()); code != 503 {
		t.Fatalf("readyz with a missing migration = %d %v, want 503", code, body)
	}
}

func TestStartsThrowawayDatabaseWhenURLEmpty(t *testing.T) {
	svc, stop := start(t, testConfig(t, `""`))
	if svc.Cluster() == nil {
		t.Fatal("no throwaway cluster started")
	}
	dir := svc.Cluster().Dir()
	if code, body := readyz(t, svc.Addr()); code != 200 {
		t.Fatalf("readyz = %d %v", code, body)
	}
	stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("throwaway cluster dir %s still exists after shutdown", dir)
	}
}

func TestSignatureRequiredOnInfoAndInventoryWhenKeyConfigured(t *testing.T) {
	seed := bytes.Repeat([]byte{0x11}, 32) // the §5 test key
	t.Setenv("BRIDGE_ADSERVER_PUBLIC_KEY", "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737")
	svc, stop := start(t, testConfig(t, testdb.URL(t)))
	defer stop()
	for _, path := range []string{"/info.json", "/inventory"} {
		resp, err := http.Get("http://" + svc.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s without a signature = %d, want 401", path, resp.StatusCode)
		}
		nonce := make([]byte, 32)
		rand.Read(nonce)
		req, _ := http.NewRequest("GET", "http://"+svc.Addr()+path, nil)
		req.Header.Set("Authorization", ads.SignAuthorization(seed, "0001-00000005-CBCA", nonce, time.Now()))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s with a valid signature = %d, want 200", path, resp.StatusCode)
		}
	}
	// Browsers fetch placeholder images unsigned: no 401 there (404: no such creative).
	resp, err := http.Get("http://" + svc.Addr() + "/placeholder/00000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/placeholder without a signature = %d, want 404 (not 401)", resp.StatusCode)
	}
	// /bid is never signed by the AdServer and must not require it.
	resp, err = http.Post("http://"+svc.Addr()+"/bid", "application/json", strings.NewReader(`{"context":[],"requests":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Fatal("/bid must not require a signature")
	}
}

// TestRunOutlivedByAWorker: a worker that ignores the shutdown timeout and
// fails later must not crash the process (its error used to be sent on a
// channel Run had already closed).
func TestRunOutlivedByAWorker(t *testing.T) {
	cfg := testConfig(t, testdb.URL(t))
	cfg.Server.ShutdownTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	svc.workers = append(svc.workers, WorkerFunc(func(ctx context.Context) error {
		<-ctx.Done()
		<-release // stuck past the shutdown timeout
		return errors.New("late failure")
	}))
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil (the late worker had not failed yet)", err)
	}
	close(release)
	<-svc.workersDone // the late worker's error has been handed over by now
}
