package bench

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/pglocal"
)

// env is everything a run starts: a durable throwaway PostgreSQL, the
// simulated DSPs (in this process), the bridge and the floor proxy (each
// its own process), and the AdServer's view of the bridge's inventory.
type env struct {
	dir        string
	cluster    *pglocal.Cluster
	pgLog      *os.File
	db         *pgx.Conn // the bench's own connection (books, drain)
	dbBackend  int       // its server process, left out of PostgreSQL's CPU
	dsps       []*dspsim.Server
	names      []string // DSP names in config order (the hung one last)
	bridge     *child
	proxy      *child
	bridgeURL  string
	proxyURL   string
	metrics    string
	configPath string
	creatives  []adserversim.Creative
	durability map[string]string // PostgreSQL settings that make commits durable
	noBURL     bool
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// dspPrice is the CPM of the i-th simulated DSP: different for each, so
// that the highest one wins every slot.
func dspPrice(i int) string { return fmt.Sprintf("%d.%02d", 1+i/4, 25*(i%4)) }

// startEnv brings everything up. On error it releases what it started.
func startEnv(ctx context.Context, o *Options) (e *env, err error) {
	e = &env{noBURL: o.NoBURL}
	defer func() {
		if err != nil {
			e.close(true)
			e = nil
		}
	}()
	if e.dir, err = os.MkdirTemp("", "bridge-bench-"); err != nil {
		return e, err
	}
	if e.pgLog, err = os.Create(filepath.Join(e.dir, "postgres.log")); err != nil {
		return e, err
	}
	// Never Fast: every win and view must be as durable as in production.
	if e.cluster, err = pglocal.Start(ctx, pglocal.Options{Fast: false, Log: e.pgLog}); err != nil {
		return e, err
	}
	if e.db, err = pgx.Connect(ctx, e.cluster.URL("postgres")); err != nil {
		return e, err
	}
	if err = e.db.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&e.dbBackend); err != nil {
		return e, err
	}
	e.durability = map[string]string{}
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		if err = e.db.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return e, err
		}
		if v != "on" {
			return e, fmt.Errorf("bench: PostgreSQL has %s=%s; a run measures durable commits only", name, v)
		}
		e.durability[name] = v
	}

	var entries []dspEntry
	for i := range o.DSPs {
		rec := 1
		if i == 0 {
			rec = maxCaptured // the BidRequests the floor replays
		}
		do := dspsim.Options{Price: dspPrice(i), Latency: o.DSPLatency, Seed: int64(o.Seed) + int64(i), MaxRecorded: rec, NoBURL: o.NoBURL}
		if o.hooks.dsp != nil {
			o.hooks.dsp(i, &do)
		}
		d, err := dspsim.Start(do)
		if err != nil {
			return e, err
		}
		e.dsps = append(e.dsps, d)
		e.names = append(e.names, "dsp"+strconv.Itoa(i+1))
	}
	if o.HungDSP {
		d, err := dspsim.Start(dspsim.Options{Mode: dspsim.ModeHang, MaxRecorded: 1})
		if err != nil {
			return e, err
		}
		e.dsps = append(e.dsps, d)
		e.names = append(e.names, "hung")
	}
	for i, d := range e.dsps {
		entries = append(entries, dspEntry{name: e.names[i], endpoint: d.Endpoint()})
	}

	listen, err := freeAddr()
	if err != nil {
		return e, err
	}
	if e.metrics, err = freeAddr(); err != nil {
		return e, err
	}
	e.bridgeURL = "http://" + listen
	e.configPath = filepath.Join(e.dir, "bridge.yaml")
	yaml := bridgeConfigYAML(configParams{
		listen: listen, metrics: e.metrics, dbURL: e.cluster.URL("postgres"), spoolDir: filepath.Join(e.dir, "spool"),
		tmax: o.TMax, dspTimeout: o.dspTimeout(), pprof: o.Pprof, dsps: entries, allow: o.hooks.allow, extra: o.hooks.extra,
	})
	if err = os.WriteFile(e.configPath, []byte(yaml), 0o600); err != nil {
		return e, err
	}
	// Checked here first, so that a config the bridge no longer accepts is
	// reported as such rather than as a bridge that did not start.
	_, warnings, err := config.Load(e.configPath)
	if err != nil {
		return e, fmt.Errorf("bench: the generated config %s is not valid for this bridge: %w", e.configPath, err)
	}
	for _, w := range warnings {
		o.progress("warning: generated config: %s", w)
	}

	env := childEnv(o.Env)
	if e.bridge, err = startChild("bridge", o.Exe, []string{"serve", "--config", e.configPath}, env, filepath.Join(e.dir, "bridge.log")); err != nil {
		return e, err
	}
	if err = e.bridge.waitReady(ctx, e.bridgeURL+"/readyz", 60*time.Second); err != nil {
		return e, err
	}
	if err = e.importInventory(ctx); err != nil {
		return e, err
	}

	if o.Floor {
		proxyListen, err := freeAddr()
		if err != nil {
			return e, err
		}
		e.proxyURL = "http://" + proxyListen
		args := []string{"bench", "proxy", "--listen", proxyListen, "--timeout", o.dspTimeout().String()}
		if o.Mode == ModeViews {
			// The floor of a durable view: one row, group-committed.
			args = append(args, "--database", e.cluster.URL("postgres"))
		}
		for _, d := range e.dsps {
			args = append(args, "--dsp", d.Endpoint())
		}
		if e.proxy, err = startChild("floor proxy", o.Exe, args, env, filepath.Join(e.dir, "proxy.log")); err != nil {
			return e, err
		}
		if err = e.proxy.waitReady(ctx, e.proxyURL+"/healthz", 30*time.Second); err != nil {
			return e, err
		}
	}
	return e, nil
}

// importInventory registers the bridge and imports its inventory as the
// AdServer does, which gives the creatives and their view/click URLs.
func (e *env) importInventory(ctx context.Context) error {
	seed := sha256.Sum256([]byte("dsp-bridge bench adserver"))
	c := &adserversim.Client{BaseURL: e.bridgeURL, BridgeAddr: bridgeAddr, AdServerAddr: adserverAddr, Seed: seed[:]}
	if _, err := c.Register(ctx); err != nil {
		return fmt.Errorf("bench: registering the bridge: %w", err)
	}
	if _, err := c.ImportInventory(ctx); err != nil {
		return fmt.Errorf("bench: importing the inventory: %w", err)
	}
	e.creatives = c.Creatives()
	if len(e.creatives) != len(benchCreatives) {
		return fmt.Errorf("bench: imported %d creatives, configured %d", len(e.creatives), len(benchCreatives))
	}
	return nil
}

// spoolBytes is what the bridge's spool holds (its /readyz detail): views
// accepted while PostgreSQL was slow, not yet in the database.
func (e *env) spoolBytes(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.bridgeURL+"/readyz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Spool struct {
			Bytes int64 `json:"bytes"`
		} `json:"spool"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("bench: /readyz: %w", err)
	}
	return body.Spool.Bytes, nil
}

// pendingNotices counts notices the outbox has not finished with.
func (e *env) pendingNotices(ctx context.Context) (int64, error) {
	var n int64
	err := e.db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending'`).Scan(&n)
	return n, err
}

// drain waits until the outbox has nothing pending and the spool is empty,
// at most limit. It reports whether that happened.
func (e *env) drain(ctx context.Context, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	for {
		n, err := e.pendingNotices(ctx)
		if err != nil {
			return false, err
		}
		s, err := e.spoolBytes(ctx)
		if err != nil {
			return false, err
		}
		if n == 0 && s == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cpu reads the CPU time used so far by each measured process.
func (e *env) cpu() (cpuSnap, error) {
	var s cpuSnap
	var err error
	if s.bridge, err = ProcessCPU(e.bridge.pid()); err != nil {
		return s, fmt.Errorf("bench: bridge CPU: %w", err)
	}
	if e.proxy != nil {
		if s.proxy, err = ProcessCPU(e.proxy.pid()); err != nil {
			return s, fmt.Errorf("bench: proxy CPU: %w", err)
		}
	}
	if s.postgres, err = TreeCPU(e.cluster.PID(), e.dbBackend); err != nil {
		return s, fmt.Errorf("bench: PostgreSQL CPU: %w", err)
	}
	s.bench, s.steal = SelfCPU(), HostSteal()
	return s, nil
}

// cpuSnap is one reading of every process's CPU time, and of the
// machine's steal time.
type cpuSnap struct{ bridge, proxy, postgres, bench, steal time.Duration }

func (a cpuSnap) sub(b cpuSnap) cpuSnap {
	return cpuSnap{a.bridge - b.bridge, a.proxy - b.proxy, a.postgres - b.postgres, a.bench - b.bench, a.steal - b.steal}
}

func (a cpuSnap) add(b cpuSnap) cpuSnap {
	return cpuSnap{a.bridge + b.bridge, a.proxy + b.proxy, a.postgres + b.postgres, a.bench + b.bench, a.steal + b.steal}
}

// targets builds where each system's calls go.
func (e *env) targets(o *Options) (map[System]*target, error) {
	out := map[System]*target{}
	transport := func() *http.Transport {
		return &http.Transport{
			Proxy: nil, MaxIdleConns: 4096, MaxIdleConnsPerHost: 2 * o.Concurrency * max(1, len(e.dsps)),
			IdleConnTimeout: 10 * time.Minute, DisableCompression: true,
		}
	}
	parse := func(raw string) *url.URL { u, _ := url.Parse(raw); return u }
	// The AdServer waits up to 30 s for /bid; a bridge that does not answer
	// within tmax + 10 s has failed anyway.
	br := &target{sys: Bridge, client: &http.Client{Transport: transport(), Timeout: o.TMax + 10*time.Second}, bid: parse(e.bridgeURL + "/bid")}
	for _, c := range e.creatives {
		v, err := eventBase(c.ViewURL)
		if err != nil {
			return nil, err
		}
		k, err := eventBase(c.ClickURL)
		if err != nil {
			return nil, err
		}
		br.view, br.click = append(br.view, v), append(br.click, k)
	}
	out[Bridge] = br
	if e.proxy != nil {
		out[Floor] = &target{sys: Floor, client: &http.Client{Transport: transport(), Timeout: o.TMax + 10*time.Second},
			bid: parse(e.proxyURL + "/bid"), view: []*url.URL{parse(e.proxyURL + "/view")}, click: []*url.URL{parse(e.proxyURL + "/click")}}
		d := &target{sys: Direct, client: &http.Client{Transport: transport(), Timeout: o.dspTimeout()}}
		for _, s := range e.dsps {
			d.dsps = append(d.dsps, parse(s.Endpoint()))
		}
		out[Direct] = d
	}
	return out, nil
}

// close stops everything in order: the bridge (cleanly, so in-flight work
// finishes), the proxy, the DSPs, then PostgreSQL. removeDir also deletes
// the logs and the config.
func (e *env) close(removeDir bool) []error {
	var errs []error
	if e.bridge != nil {
		if err := e.bridge.stop(20 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("bridge: %w", err))
		}
	}
	if e.proxy != nil {
		if err := e.proxy.stop(5 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("floor proxy: %w", err))
		}
	}
	for _, d := range e.dsps {
		d.Close()
	}
	if e.db != nil {
		e.db.Close(context.Background())
	}
	if e.cluster != nil {
		e.cluster.Stop()
	}
	if e.pgLog != nil {
		e.pgLog.Close()
	}
	if removeDir && e.dir != "" {
		os.RemoveAll(e.dir)
	}
	return errs
}

var errInterrupted = errors.New("bench: interrupted")
