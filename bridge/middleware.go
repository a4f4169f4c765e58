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

// requestID is the caller's request id, if it sent a sane one, or a new one.
func requestID(r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if id == "" || len(id) > 64 {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return id
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

// frame is every request's middleware, folded into one handler (one
// context and one copy of the request instead of one per layer):
//   - a request id (the caller's, if it sent a sane one), answered in
//     X-Request-Id and carried in the context: every line logged with that
//     context carries it;
//   - one JSON access line per request: "request", or what the handler
//     named it with logctx.Info ("auction", "event recorded"), with the
//     handler's attributes after the request's own. One line, so one write,
//     per call;
//   - a panic in a handler turned into a logged 500 (recoverPanics), which
//     keeps the process (and every other request) alive;
//   - the body capped at server.max_body_bytes (limitBody).
func (s *Server) frame(next http.Handler) http.Handler {
	limit := s.cfg.Server.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set(RequestIDHeader, id)
		// The metrics middleware outside already records the status and
		// size: read its recorder rather than wrapping it in another.
		rec, ok := w.(*StatusRecorder)
		if !ok {
			rec = &StatusRecorder{ResponseWriter: w}
		}
		ctx, line := logctx.WithRequest(r.Context(), id)
		r = r.WithContext(ctx)
		s.recoverPanics(rec, r, limit, next)
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

// recoverPanics serves r with its body capped at limit (a *http.MaxBytesError
// past it, which httpapi answers with 413), and turns a panic in the handler
// into a logged 500.
func (s *Server) recoverPanics(w http.ResponseWriter, r *http.Request, limit int64, next http.Handler) {
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
	if r.ContentLength > limit {
		httpapi.WriteError(w, &http.MaxBytesError{Limit: limit})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	next.ServeHTTP(w, r)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteError(w, httpapi.Errorf(httpapi.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusMethodNotAllowed, httpapi.ErrorBody{Error: "method " + r.Method + " not allowed on " + r.URL.Path})
}
