package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/bridge"
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
		rec := &bridge.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := rctx.RoutePattern()
		if route == "" {
			route = "other"
		}
		code := rec.Status()
		if code == 0 {
			code = http.StatusOK
		}
		m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		if route == "/bid" || route == "/serve" {
			m.bidDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}
