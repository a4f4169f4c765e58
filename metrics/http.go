package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/bridge"
)

// routeContexts recycles chi route contexts, as chi's own router does for
// the requests it is handed without one.
var routeContexts = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// Middleware counts every AdServer-facing request by route pattern and
// status, and times /bid and /serve. It wraps the chi router from outside
// (bridge.Server.Instrument): it hands the router a fresh route context,
// which chi fills in, so the label is the matched pattern ("/bid",
// "/payment-details/{reportId}/...") or "other" for unmatched paths, never
// a raw path from the request. Its StatusRecorder is the one the bridge's
// access log reads too (one wrapper per request, not two).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rctx := routeContexts.Get().(*chi.Context)
		rctx.Reset()
		defer routeContexts.Put(rctx)
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
		m.c.httpRequests.get(routeCode{route, code}).Inc()
		if route == "/bid" || route == "/serve" {
			m.c.bidDuration.get(route).Observe(time.Since(start).Seconds())
		}
	})
}
