// Package ratesim is a fake AdsOperator exchange-rate service on loopback,
// for tests and `bridge demo`: GET /api/v1/exchange-rate/{ATOM time}/{currency}
// answers {"rate": <number>} like the real one (which the AdServer uses for
// its own ADS rate), and can be told to change its rate or to fail.
package ratesim

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ATOM is the time layout the AdsOperator parses in the path.
const ATOM = "2006-01-02T15:04:05-07:00"

// Server is a running fake rate service.
type Server struct {
	srv *http.Server
	l   net.Listener
	url string

	mu       sync.Mutex
	rate     string // JSON number text answered
	status   int    // non-zero: answer this status instead
	body     string // non-empty: answer this body instead
	requests []string
}

// New starts a server on a free loopback port answering rate (JSON number
// text, e.g. "0.0512"). It panics if it cannot listen, like httptest.
func New(rate string) *Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("ratesim: listen: %v", err))
	}
	s := &Server{l: l, url: "http://" + l.Addr().String(), rate: rate}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(l)
	return s
}

// URL is the base URL to configure as money.rate_url.
func (s *Server) URL() string { return s.url }

// SetRate changes the rate answered from now on.
func (s *Server) SetRate(rate string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rate
}

// Fail makes every request answer status (0: answer normally again).
func (s *Server) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// Answer makes every request answer 200 with body as it is ("": normally).
func (s *Server) Answer(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

// Requests are the request URIs received, exactly as sent (the "+" of the
// time's offset included).
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.RequestURI)
	rate, status, body := s.rate, s.status, s.body
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, `{"message":"unavailable"}`, status)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/exchange-rate/")
	date, currency, ok2 := strings.Cut(rest, "/")
	if r.Method != http.MethodGet || !ok || !ok2 {
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
		return
	}
	// The AdsOperator: DateTime::createFromFormat(ATOM), only "usd".
	if _, err := time.Parse(ATOM, date); err != nil {
		http.Error(w, fmt.Sprintf(`{"message":"Date (%s) is not valid."}`, date), http.StatusBadRequest)
		return
	}
	if !strings.EqualFold(currency, "usd") {
		http.Error(w, `{"message":"Only usd currency is supported."}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if body != "" {
		fmt.Fprint(w, body)
		return
	}
	fmt.Fprintf(w, `{"rate":%s}`, rate)
}
