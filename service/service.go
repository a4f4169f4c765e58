// Package service wires the bridge together from its configuration: the
// database (or a throwaway local one), migrations, the HTTP server and the
// background workers. `bridge serve`, `bridge demo` and the end-to-end tests
// all start the bridge through it.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/bridge"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/logbuf"
	"github.com/adshares/dsp-bridge/internal/logctx"
	"github.com/adshares/dsp-bridge/metrics"
	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/pglocal"
	"github.com/adshares/dsp-bridge/public"
	"github.com/adshares/dsp-bridge/rates"
	"github.com/adshares/dsp-bridge/retention"
	"github.com/adshares/dsp-bridge/store"
)

// Worker is a background task (notice delivery, payment settling) that runs
// until its context is cancelled.
type Worker interface {
	Run(ctx context.Context) error
}

// WorkerFunc adapts a function to Worker.
type WorkerFunc func(ctx context.Context) error

// Run calls f.
func (f WorkerFunc) Run(ctx context.Context) error { return f(ctx) }

// Service is a configured bridge, ready to Run.
type Service struct {
	Config *config.Config
	Store  *store.Store
	Log    *slog.Logger
	// Metrics are the bridge's Prometheus metrics (served on metrics.listen).
	Metrics *metrics.Metrics
	// Rates is the ADS rate views are valued at (static or the feed).
	Rates *rates.Feed

	cluster  *pglocal.Cluster
	server   *bridge.Server
	workers  []Worker
	listener net.Listener
	closers  []func()

	metricsSrv *metrics.Server
	demand     *bridge.Demand // its Auctioneer takes config reloads
	notices    *outbox.Worker // takes the DSPs' allow_networks on reloads
	public     *public.Server // the public listener, if configured
	reloadMu   sync.Mutex     // one Reload at a time
	// workersDone is closed once every worker has returned (set by Run).
	workersDone chan struct{}
}

// New connects to the database (starting a throwaway PostgreSQL when
// database.url is empty), applies migrations and builds every component.
// It binds the listen address so that a busy port fails here, not later.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Service, error) {
	s := &Service{Config: cfg, Log: log}
	url := cfg.Database.URL
	if url == "" {
		log.Info("database.url is empty: starting a throwaway PostgreSQL (its data is deleted on exit)")
		c, err := pglocal.Start(ctx, pglocal.Options{})
		if err != nil {
			return nil, err
		}
		s.cluster = c
		url = c.URL("postgres")
		log.Info("throwaway PostgreSQL started", "url", url)
	}
	st, err := store.OpenWith(ctx, url, store.Options{MaxConns: cfg.Database.MaxConns, WinConns: cfg.Database.WinConns})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Store = st
	applied, err := st.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "versions", applied)
	}
	// Partitions for the coming days before the first request, so that
	// today's rows never wait in a default partition. Not fatal: an insert
	// without its partition lands in the default one, and the keeper
	// tries again every retention.check_interval.
	if _, err := retention.New(st, cfg, log).Ensure(ctx); err != nil {
		log.Warn("retention: partitions not created at start; the keeper will try again", "error", err)
	}
	w, err := wire(ctx, s)
	if err != nil {
		s.closers = w.closers
		s.Close()
		return nil, err
	}
	s.server = bridge.NewServer(cfg, log, append([]bridge.ReadinessCheck{s.databaseCheck}, w.checks...), w.modules...)
	s.workers = w.workers
	s.closers = append(s.closers, w.closers...)
	s.Metrics, s.demand, s.notices, s.Rates, s.public = w.metrics, w.demand, w.notices, w.rates, w.public
	s.server.Instrument(s.Metrics.Middleware)
	if cfg.Metrics.Listen != "" {
		ms, err := metrics.Listen(cfg.Metrics.Listen, s.Metrics.Handler(log, cfg.Metrics.Pprof), log)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("metrics.listen %s: %w", cfg.Metrics.Listen, err)
		}
		s.metricsSrv = ms
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	s.listener = l
	return s, nil
}

// Addr is the address the AdServer-facing server listens on.
func (s *Service) Addr() string { return s.listener.Addr().String() }

// MetricsAddr is the address of the metrics server, "" when metrics.listen is empty.
func (s *Service) MetricsAddr() string {
	if s.metricsSrv == nil {
		return ""
	}
	return s.metricsSrv.Addr()
}

// PublicAddr is the address of the public listener, "" when public_listen
// is empty.
func (s *Service) PublicAddr() string {
	if s.public == nil {
		return ""
	}
	return s.public.Addr()
}

// Auction is the running auction (its DSP states and creative counters).
func (s *Service) Auction() *auction.Auctioneer { return s.demand.Auction }

// DatabaseURL is the URL of the database in use (useful with a throwaway one).
func (s *Service) DatabaseURL() string { return s.Store.Pool.Config().ConnString() }

// Cluster is the throwaway PostgreSQL, or nil when database.url was given.
func (s *Service) Cluster() *pglocal.Cluster { return s.cluster }

// Run serves and runs the workers until ctx is cancelled, then shuts down in
// order: stop accepting and finish in-flight requests, stop the workers,
// close the pool, stop a throwaway PostgreSQL.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	s.Log.Info("bridge listening", "addr", s.Addr(), "base_url", s.Config.BaseURL, "dsps", len(s.Config.DSPs))
	metricsDone := make(chan struct{})
	if s.metricsSrv != nil {
		s.Log.Info("metrics listening", "addr", s.MetricsAddr(), "pprof", s.Config.Metrics.Pprof)
		go func() {
			defer close(metricsDone)
			if err := s.metricsSrv.Serve(); err != nil {
				s.Log.Error("metrics server failed", "error", err)
			}
		}()
	} else {
		close(metricsDone)
	}

	workerCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, len(s.workers)+1)
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(workerCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
	serveErr := s.server.Serve(ctx, s.listener)
	stopWorkers()
	if s.metricsSrv != nil {
		// Metrics stay up until the AdServer-facing server has drained, so
		// the last scrape sees the shutdown's requests.
		mctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.metricsSrv.Shutdown(mctx)
		cancel()
	}
	<-metricsDone
	done := make(chan struct{})
	s.workersDone = done
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.Config.Server.ShutdownTimeout):
		s.Log.Warn("workers did not stop within the shutdown timeout")
	}
	var errs []error
	if serveErr != nil {
		errs = append(errs, serveErr)
	}
	// errc is never closed: a worker that outlived the shutdown timeout may
	// still send its error later (into the buffer, which has room for all).
	for collected := false; !collected; {
		select {
		case err := <-errc:
			errs = append(errs, err)
		default:
			collected = true
		}
	}
	s.Log.Info("bridge stopped")
	return errors.Join(errs...)
}

// Close releases everything New acquired. Run calls it; call it yourself
// only when Run is never called.
func (s *Service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	if s.listener != nil {
		s.listener.Close()
	}
	if s.metricsSrv != nil {
		s.metricsSrv.Close()
	}
	if s.Store != nil {
		s.Store.Close()
		s.Store = nil
	}
	if s.cluster != nil {
		s.cluster.Stop()
		s.cluster = nil
	}
}

// databaseCheck is the readiness of PostgreSQL: reachable, migrations applied.
func (s *Service) databaseCheck(ctx context.Context) (string, any, bool) {
	st := s.Store
	if st == nil {
		return "database", map[string]any{"ok": false, "reason": "closed"}, false
	}
	if err := st.Ping(ctx); err != nil {
		return "database", map[string]any{"ok": false, "reason": "unreachable: " + err.Error()}, false
	}
	pending, err := st.PendingMigrations(ctx)
	if err != nil {
		return "database", map[string]any{"ok": false, "reason": err.Error()}, false
	}
	if pending > 0 {
		return "database", map[string]any{"ok": false, "reason": fmt.Sprintf("%d migrations not applied", pending)}, false
	}
	return "database", map[string]any{"ok": true}, true
}

// NewLogger returns the JSON logger of cfg writing to out, and the close
// that writes what it still buffers (call it last, after the service
// stopped). With log.buffer > 0 info lines reach out in batches (when the
// buffer fills, every log.flush_interval, on close), warn and error lines at
// once: a log line is then not a system call of its own.
func NewLogger(out io.Writer, cfg config.Log) (*slog.Logger, func() error) {
	var l slog.Level
	l.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: l}
	if cfg.Buffer <= 0 {
		return slog.New(logctx.Handler(slog.NewJSONHandler(out, opts))), func() error { return nil }
	}
	w := logbuf.New(out, cfg.Buffer, cfg.FlushInterval)
	return slog.New(logctx.Handler(w.Handler(slog.NewJSONHandler(w, opts)))), w.Close
}
