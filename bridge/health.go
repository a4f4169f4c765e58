package bridge

import (
	"context"
	"net/http"
	"time"

	"github.com/adshares/dsp-bridge/httpapi"
)

// healthz says the process is alive; it touches nothing else.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every readiness check: 200 when all pass, 503 otherwise, with
// each check's detail in the JSON body.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]any{}
	ready := true
	for _, check := range s.checks {
		name, detail, ok := check(ctx)
		body[name] = detail
		ready = ready && ok
	}
	status := http.StatusOK
	body["status"] = "ready"
	if !ready {
		status = http.StatusServiceUnavailable
		body["status"] = "unready"
	}
	httpapi.WriteJSON(w, status, body)
}
