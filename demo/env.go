// Package demo plays the whole bridge lifecycle on one machine: a throwaway
// PostgreSQL, three simulated DSPs, the bridge itself (service.New/Run) and
// the AdServer simulator driving it from registration to paid payment
// reports. `bridge demo` prints what it does; the end-to-end test runs the
// same code and asserts the same Summary, so the demo's numbers are the
// ones the test checks.
package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/logbuf"
	"github.com/adshares/dsp-bridge/internal/logctx"
	"github.com/adshares/dsp-bridge/pglocal"
	"github.com/adshares/dsp-bridge/ratesim"
	"github.com/adshares/dsp-bridge/service"
)

// The demo's ADS accounts (valid checksums) and the AdServer's signing seed,
// whose public key the bridge is configured with so that it verifies every
// signed call.
const (
	BridgeAddr   = "0001-00000003-AB0C"
	AdServerAddr = "0001-00000005-CBCA"
)

// AdServerSeed is the demo AdServer's Ed25519 seed (its adshares_secret).
var AdServerSeed = func() []byte { s := sha256.Sum256([]byte("dsp-bridge demo adserver")); return s[:] }()

// Options configure a demo run. The zero value of a field means its default.
type Options struct {
	Seed     uint64        // randomness of the traffic and the DSPs' prices (default 1)
	Rate     int           // /bid calls per second (default 20)
	Duration time.Duration // how long the traffic runs (default 10s)
	// DatabaseURL, if set, is used instead of a throwaway PostgreSQL.
	DatabaseURL string
	// Dir receives the bridge config and logs (default: a new temp dir).
	Dir string
	// Progress, if set, gets a progress line every second.
	Progress io.Writer
	// ViewPercent of served ads get a view, ClickPercent of viewed ones a click.
	ViewPercent, ClickPercent int
	// Period and SettleAfter of payment reports (default 2s and 1s).
	Period, SettleAfter time.Duration
	// Wait bounds waiting for notices and reports after the traffic (default 30s).
	Wait time.Duration
	// DSPs to simulate (default DefaultProfiles(Duration)).
	DSPs []Profile
	// ADSRate is the USD price of 1 ADS the fake AdsOperator rate service
	// answers (default DefaultADSRate); the bridge fetches it as money.rate_url.
	ADSRate string
	// Fee is money.fee, the operator's share (default none).
	Fee string
}

// DefaultADSRate is the rate the demo's fake rate service answers.
const DefaultADSRate = "0.0512"

func (o *Options) defaults() {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.ViewPercent == 0 {
		o.ViewPercent = 85
	}
	if o.ClickPercent == 0 {
		o.ClickPercent = 10
	}
	if o.Period <= 0 {
		o.Period = 2 * time.Second
	}
	if o.SettleAfter <= 0 {
		o.SettleAfter = time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.DSPs == nil {
		o.DSPs = DefaultProfiles(o.Duration)
	}
	if o.ADSRate == "" {
		o.ADSRate = DefaultADSRate
	}
	if o.Fee == "" {
		o.Fee = "0"
	}
}

// Env is a running demo: database, DSPs, bridge and AdServer simulator.
type Env struct {
	Options    Options
	Config     *config.Config
	ConfigPath string
	LogPath    string
	DSPs       []*DSP
	// RateServer is the fake AdsOperator the bridge takes its ADS rate from.
	RateServer *ratesim.Server
	Service    *service.Service
	Client     *adserversim.Client

	breakers *breakers
	cluster  *pglocal.Cluster
	logFile  *os.File
	logBuf   *logbuf.Writer // nil with log.buffer 0
	pgLog    *os.File
	stop     context.CancelFunc
	done     chan error
}

// Start brings everything up: PostgreSQL (unless opts.DatabaseURL), the
// DSPs, and the bridge serving on a free loopback port. Close releases it
// all, also when Start fails half-way.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	opts.defaults()
	e := &Env{Options: opts, breakers: &breakers{state: map[string]string{}, opens: map[string]int{}}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.Options.Dir == "" {
		if e.Options.Dir, err = os.MkdirTemp("", "bridge-demo-"); err != nil {
			return nil, err
		}
	}
	e.LogPath = filepath.Join(e.Options.Dir, "bridge.log")
	if e.logFile, err = os.Create(e.LogPath); err != nil {
		return nil, err
	}
	dbURL := opts.DatabaseURL
	if dbURL == "" {
		if e.pgLog, err = os.Create(filepath.Join(e.Options.Dir, "postgres.log")); err != nil {
			return nil, err
		}
		if e.cluster, err = pglocal.Start(ctx, pglocal.Options{Fast: true, Log: e.pgLog}); err != nil {
			return nil, err
		}
		dbURL = e.cluster.URL("postgres")
	}
	e.RateServer = ratesim.New(opts.ADSRate)
	for _, p := range opts.DSPs {
		d, err := startDSP(p, opts.Seed)
		if err != nil {
			return nil, err
		}
		e.DSPs = append(e.DSPs, d)
	}
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	metrics, err := freePort()
	if err != nil {
		return nil, err
	}
	e.ConfigPath = filepath.Join(e.Options.Dir, "bridge.yaml")
	if err := os.WriteFile(e.ConfigPath, []byte(e.configYAML(listen, metrics, dbURL)), 0o600); err != nil {
		return nil, err
	}
	cfg, _, err := config.Load(e.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("demo config %s: %w", e.ConfigPath, err)
	}
	e.Config = cfg
	// Buffered like the bridge's own log (log.buffer): info lines in
	// batches, warn and error at once, everything written by Close.
	var logOut io.Writer = e.logFile
	flushWarn := func(h slog.Handler) slog.Handler { return h }
	if cfg.Log.Buffer > 0 {
		e.logBuf = logbuf.New(e.logFile, cfg.Log.Buffer, cfg.Log.FlushInterval)
		logOut, flushWarn = e.logBuf, e.logBuf.Handler
	}
	log := slog.New(logctx.Handler(watchHandler{flushWarn(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})), e.breakers}))
	if e.Service, err = service.New(ctx, cfg, log); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stop, e.done = stop, make(chan error, 1)
	go func() { e.done <- e.Service.Run(runCtx) }()
	e.Client = &adserversim.Client{
		BaseURL: cfg.BaseURL, BridgeAddr: BridgeAddr, AdServerAddr: AdServerAddr, Seed: AdServerSeed,
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: nil}},
	}
	return e, nil
}

// Close stops the bridge (in-flight requests finish, workers stop), then the
// DSPs, then PostgreSQL. It is safe to call more than once.
func (e *Env) Close() {
	if e.stop != nil {
		e.stop()
		if err := <-e.done; err != nil && !errors.Is(err, context.Canceled) {
			if e.logBuf != nil {
				e.logBuf.Flush() // the bridge's lines first
			}
			fmt.Fprintf(e.logFile, `{"msg":"demo: bridge stopped with an error","error":%q}`+"\n", err.Error())
		}
		e.stop = nil
	} else if e.Service != nil {
		e.Service.Close()
	}
	e.Service = nil
	if e.logBuf != nil {
		// After the bridge stopped (its last lines), before the file closes.
		e.logBuf.Close()
		e.logBuf = nil
	}
	for _, d := range e.DSPs {
		d.Server.Close()
	}
	e.DSPs = nil
	if e.RateServer != nil {
		e.RateServer.Close()
		e.RateServer = nil
	}
	if e.cluster != nil {
		e.cluster.Stop()
		e.cluster = nil
	}
	for _, f := range []*os.File{e.logFile, e.pgLog} {
		if f != nil {
			f.Close()
		}
	}
	e.logFile, e.pgLog = nil, nil
}

// DatabaseURL is the database the bridge uses.
func (e *Env) DatabaseURL() string { return e.Config.Database.URL }

// PublicKey is the hex Ed25519 public key of AdServerSeed.
func PublicKey() string {
	return hex.EncodeToString(ed25519.NewKeyFromSeed(AdServerSeed).Public().(ed25519.PublicKey))
}

// freePort returns a loopback address nobody listens on right now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// configYAML is the bridge's demo configuration: the three DSPs, the ADS
// rate from the fake rate service (refreshed every second), short payment
// periods, fast notice polling and signature checks on.
func (e *Env) configYAML(listen, metrics, dbURL string) string {
	var b strings.Builder
	o := e.Options
	fmt.Fprintf(&b, `# Written by bridge demo: a throwaway configuration.
listen: %q
base_url: "http://%s"
log: {level: info}
database: {url: %q, max_conns: 20}
adshares: {address: %q}
adserver: {address: %q, public_key: %q}
auction:
  tmax: 1000ms
  breaker: {failures: 5, open_for: 2s, half_open_requests: 1}
money: {rate_url: %q, rate_refresh: 1s, fee: %q}
payments: {period: %s, settle_after: %s, window: 1h}
outbox: {workers: 4, per_dsp: 16, timeout: 2s, backoff_base: 200ms, backoff_max: 1s, poll: 100ms}
metrics: {listen: %q}
inventory:
  campaigns:
    - id: "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50"
      name: "DSP demand"
      creatives:
        - {id: "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b", type: image, mime: image/png, size: 300x250}
        - {id: "0c1d2e3f405162738495a6b7c8d9eaf0", type: image, mime: image/jpeg, size: 728x90}
        - {type: image, mime: image/gif, size: 160x600}
        - {type: video, mime: video/mp4, size: 640x360}
dsps:
`, listen, listen, dbURL, BridgeAddr, AdServerAddr, PublicKey(), e.RateServer.URL(), o.Fee,
		fmtDuration(o.Period), fmtDuration(o.SettleAfter), metrics)
	for _, d := range e.DSPs {
		timeout := d.Profile.Timeout
		if timeout <= 0 {
			timeout = 800 * time.Millisecond
		}
		// The simulated DSPs live on loopback, which the outbound URL
		// policy refuses for their nurl/burl unless allowed.
		fmt.Fprintf(&b, "  - {name: %s, endpoint: %q, timeout: %s, allow_networks: [127.0.0.0/8]}\n",
			d.Profile.Name, d.Server.Endpoint(), fmtDuration(timeout))
	}
	return b.String()
}

func fmtDuration(d time.Duration) string { return d.String() }
