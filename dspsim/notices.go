package dspsim

// The notice endpoints the bridge calls: /win (a nurl) and /bill (a burl).

import (
	"net/http"
	"net/url"
)

// Wins returns the query of every /win (nurl) hit.
func (s *Server) Wins() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.wins...)
}

// Bills returns the query of every successful /bill (burl) hit.
func (s *Server) Bills() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.bills...)
}

// BillHits is the number of /bill calls, failed ones included.
func (s *Server) BillHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.billHits
}

func (s *Server) win(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.wins = append(s.wins, r.URL.Query())
	s.hits[HitWin] = append(s.hits[HitWin], r.URL.Query())
	s.mu.Unlock()
	// The browser fetches serve_url cross-origin without credentials.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(pixel)
}

func (s *Server) bill(w http.ResponseWriter, r *http.Request) {
	fault := s.pickFault(SurfaceBURL)
	s.mu.Lock()
	s.billHits++
	s.hits[HitBill] = append(s.hits[HitBill], r.URL.Query())
	status := http.StatusOK
	switch {
	case fault != "":
		status = 0
		if faultAnswers2xx(fault) {
			status = http.StatusOK
		}
	case s.opts.BillStatus != 0:
		status = s.opts.BillStatus
	case s.billHits <= s.opts.BillFailures:
		status = http.StatusServiceUnavailable
	}
	// A fault that answers 200 still tells the caller the bill arrived, so
	// it is recorded before the answer is written.
	if status >= 200 && status < 300 {
		s.bills = append(s.bills, r.URL.Query())
	}
	s.mu.Unlock()
	if fault != "" {
		s.applyFault(w, r, SurfaceBURL, fault)
		return
	}
	w.WriteHeader(status)
}
