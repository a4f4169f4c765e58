package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

// Middleware counts every AdServer-facing request by route pattern and
// status, and times /bid and /serve. It wraps the chi router from outside
// (bridge.Server.Instrument): it hands the router a fresh route context,
// which chi fills in, so the label is the matched pattern ("/bid",
// "/payment-details/{reportId}/...") or "other" for unmatched paths, never
// a raw path from the request.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rctx := chi.NewRouteContext()
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		rec := &codeRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := rctx.RoutePattern()
		if route == "" {
			route = "other"
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		if route == "/bid" || route == "/serve" {
			m.bidDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

// codeRecorder remembers the status code written.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (r *codeRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *codeRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *codeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
