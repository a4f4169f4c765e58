// Package bridge is the AdServer-facing HTTP server: middleware, health,
// /info.json, /inventory and /bid, whose PHP-shaped body it turns into an
// auction.Request. The auction itself (DSPs, bids, winners) is package
// auction; events and payments mount their own routes here as Modules.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/config"
)

// Module is a group of endpoints that mounts itself on the router (events,
// payments, ...), so that each capability lives in its own package.
type Module interface {
	Mount(r chi.Router)
}

// ReadinessCheck reports one part of /readyz: its name, a JSON-able detail,
// and whether the bridge can serve with it in that state.
type ReadinessCheck func(ctx context.Context) (name string, detail any, ok bool)

// Server is the AdServer-facing HTTP server.
type Server struct {
	cfg    *config.Config
	log    *slog.Logger
	router chi.Router
	root   http.Handler // router, possibly wrapped by Instrument
	checks []ReadinessCheck
	http   *http.Server
}

// NewServer builds the router with the common middleware, the health
// endpoints and every module's routes.
func NewServer(cfg *config.Config, log *slog.Logger, checks []ReadinessCheck, modules ...Module) *Server {
	s := &Server{cfg: cfg, log: log, checks: checks}
	r := chi.NewRouter()
	r.Use(s.frame)
	r.NotFound(notFound)
	r.MethodNotAllowed(methodNotAllowed)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	for _, m := range modules {
		m.Mount(r)
	}
	s.router = r
	s.root = r
	return s
}

// Instrument wraps the whole handler (outside the request id and access
// log) with mw, e.g. request metrics. Call it before Serve.
func (s *Server) Instrument(mw func(http.Handler) http.Handler) { s.root = mw(s.root) }

// Handler is the server's root handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.root }

// Serve serves on l until ctx is cancelled, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish within
// server.shutdown_timeout, and returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.http = &http.Server{
		Handler:           s.root,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.cfg.Server.ReadTimeout,
		WriteTimeout:      s.cfg.Server.WriteTimeout,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down http server", "timeout", s.cfg.Server.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Requests still running past the timeout are cut off: closing their
		// connections cancels their contexts, which releases the database
		// connections they hold so the pool can close.
		s.log.Warn("requests still running after the shutdown timeout; closing their connections")
		s.http.Close()
		err = nil
	}
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
