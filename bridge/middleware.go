package bridge

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/adshares/dsp-bridge/httpapi"
	"github.com/adshares/dsp-bridge/internal/logctx"
)

// RequestIDHeader carries the request id to and from the caller.
const RequestIDHeader = "X-Request-Id"

// requestID gives every request an id (the caller's, if it sent a sane one),
// carried in its context: every line logged with that context carries it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if id == "" || len(id) > 64 {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(logctx.WithRequestID(r.Context(), id)))
	})
}

// StatusRecorder remembers the status and size of an answer (for the
// access log and metrics).
type StatusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

// Status is the status written (200 if only a body was written, 0 if nothing).
func (r *StatusRecorder) Status() int { return r.status }

func (r *StatusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *StatusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// accessLog writes one JSON line per request: "request", or what the handler
// named it with logctx.Info ("auction", "event recorded"), with the handler's
// attributes after the request's own. One line, so one write, per call.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &StatusRecorder{ResponseWriter: w}
		ctx, line := logctx.WithLine(r.Context())
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		if rec.status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(ctx, level) {
			return
		}
		// A record without a caller's pc (nobody logs the source): slog's
		// own methods spend about a tenth of a line on runtime.Callers.
		record := slog.NewRecord(time.Now(), level, line.Message("request"), 0)
		record.AddAttrs(
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		)
		record.AddAttrs(line.Attrs()...)
		s.log.Handler().Handle(ctx, record)
	})
}

// recoverPanics turns a panic in a handler into a logged 500, keeping the
// process (and every other request) alive.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic in handler", "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			httpapi.WriteError(w, httpapi.Errorf(httpapi.Internal, "panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body; reading past it fails with a
// *http.MaxBytesError, which httpapi answers with 413.
func limitBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				httpapi.WriteError(w, &http.MaxBytesError{Limit: limit})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteError(w, httpapi.Errorf(httpapi.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusMethodNotAllowed, httpapi.ErrorBody{Error: "method " + r.Method + " not allowed on " + r.URL.Path})
}
