package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

const serveCreative = "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b"

// serveConfig is a bridge config naming the given DSP endpoints.
func serveConfig(listen, metrics, dbURL string, endpoints ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %q\nadshares: {address: 0001-00000003-AB0C}\nmoney: {ads_usd: \"0.05\"}\n", listen)
	fmt.Fprintf(&b, "database: {url: %q}\nmetrics: {listen: %q}\nauction: {tmax: 400ms}\n", dbURL, metrics)
	b.WriteString("inventory:\n  campaigns:\n    - id: 5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50\n      creatives:\n")
	fmt.Fprintf(&b, "        - {id: %s, type: image, mime: image/png, size: 300x250}\n", serveCreative)
	b.WriteString("dsps:\n")
	for i, e := range endpoints {
		// Loopback DSPs: the outbound URL policy refuses them unless allowed.
		fmt.Fprintf(&b, "  - {name: dsp%d, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8]}\n", i, e)
	}
	return b.String()
}

// TestServeReloadsOnSIGHUP runs `bridge serve` and sends the process real
// SIGHUPs: a broken config keeps the running DSPs, a config with a new DSP
// starts sending it bid requests.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	cluster := testdb.NewCluster(t)
	a := dspsim.New(dspsim.Options{Price: "1.00"})
	defer a.Close()
	b := dspsim.New(dspsim.Options{Price: "2.00"})
	defer b.Close()
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(serveConfig(addr, metricsAddr, cluster.URL("postgres"), a.Endpoint()))

	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"serve", "--config", path}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}()
	waitFor(t, "bridge ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	bid := func() {
		body := `{"context":{"site":{"domain":"example.org","page":"https:\/\/example.org\/"},"device":{"ip":"203.0.113.7"},"user":{"uid":""}},` +
			`"requests":[{"request_id":"0","creative_id":"` + serveCreative + `"}]}`
		resp, err := http.Post("http://"+addr+"/bid", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/bid = %d", resp.StatusCode)
		}
	}
	bid()
	if a.RequestCount() != 1 || b.RequestCount() != 0 {
		t.Fatalf("before reload: a %d b %d requests, want 1 and 0", a.RequestCount(), b.RequestCount())
	}

	write("dsps: [{name: \"Bad Name\", endpoint: \"ftp://nowhere\"}]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, "the broken reload to be refused", func() bool {
		return strings.Contains(scrape(t, metricsAddr), `bridge_config_reloads_total{result="error"} 1`)
	})
	bid()
	if a.RequestCount() != 2 || b.RequestCount() != 0 {
		t.Fatalf("after a broken reload: a %d b %d requests, want 2 and 0 (old config kept)", a.RequestCount(), b.RequestCount())
	}

	write(serveConfig(addr, metricsAddr, cluster.URL("postgres"), a.Endpoint(), b.Endpoint()))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, "the new DSP to be asked", func() bool {
		bid()
		return b.RequestCount() > 0
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeStoppedDuringStartup: a signal while the throwaway PostgreSQL is
// still being created stops `serve` cleanly (exit 0, no initdb dump), as a
// signal after start does.
func TestServeStoppedDuringStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(serveConfig(freeAddr(t), "", "")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrived before the start finished
	var stderr strings.Builder
	if code := run(ctx, []string{"serve", "--config", path}, io.Discard, &stderr); code != 0 {
		t.Fatalf("serve stopped during start-up exited %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped during start-up") || strings.Contains(stderr.String(), "initdb") {
		t.Fatalf("stderr = %q", stderr.String())
	}
}
