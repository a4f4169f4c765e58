package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics and, when withPprof is set, the net/http/pprof
// endpoints under /debug/pprof/, mounted on this mux explicitly. (Importing
// net/http/pprof also registers them on http.DefaultServeMux, which no
// server of the bridge ever serves.)
func (m *Metrics) Handler(log *slog.Logger, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.Registry, // promhttp_metric_handler_errors_total
		Timeout:           10 * time.Second,
		EnableOpenMetrics: false,
	}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Server is the operator-facing metrics server.
type Server struct {
	http *http.Server
	l    net.Listener
	log  *slog.Logger
}

// Listen binds addr (so that a busy port fails at start) and prepares the
// server for h.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{l: l, log: log, http: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// A CPU profile or trace runs for its ?seconds= (30 by default).
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  90 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.l.Addr().String() }

// Serve serves until Shutdown or Close.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, letting scrapes in flight finish within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	return err
}

// Close closes the listener of a server that was never served.
func (s *Server) Close() { s.l.Close() }
