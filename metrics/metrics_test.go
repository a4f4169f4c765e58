package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/go-chi/chi/v5"
)

func body(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

func TestObserverAndMiddlewareCounts(t *testing.T) {
	m := New()
	m.SetDSPs([]string{"a", "b", "c"})
	m.ObserveDSP(auction.DSPResult{DSP: "a", Outcome: auction.OutcomeBid, Bids: 2, Latency: 3 * time.Millisecond})
	m.ObserveDSP(auction.DSPResult{DSP: "b", Outcome: auction.OutcomeBreakerOpen, Reason: auction.ReasonBreakerOpen})
	m.ObserveDSP(auction.DSPResult{DSP: "b", Outcome: auction.OutcomeSkippedDeadline, Reason: auction.ReasonSkippedDeadline})
	m.ObserveDSP(auction.DSPResult{DSP: "c", Outcome: auction.OutcomeCancelled, Reason: auction.ReasonCancelled, Latency: time.Second})
	m.ObserveAuction(&auction.AuctionResult{Outcome: auction.AuctionCancelled})
	m.ObserveRejection(auction.Rejection{DSP: "a", Reason: auction.ReasonBelowFloor})
	m.ObserveAuction(&auction.AuctionResult{Outcome: auction.AuctionWon, Overhead: 150 * time.Microsecond,
		Wins: []auction.Win{{DSP: "a"}}})
	m.ObserveWinCommit(1)
	m.ObserveWinCommit(5)

	r := chi.NewRouter()
	r.Post("/bid", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("[]")) })
	r.Get("/payment-details/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) })
	h := m.Middleware(r)
	for _, req := range []*http.Request{httptest.NewRequest("POST", "/bid", nil),
		httptest.NewRequest("GET", "/payment-details/123", nil), httptest.NewRequest("GET", "/x/secret-id", nil)} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	_, out := body(t, m.Handler(slog.New(slog.DiscardHandler), false), "/metrics")
	for _, line := range []string{
		`bridge_dsp_requests_total{dsp="a"} 1`,
		`bridge_dsp_requests_total{dsp="b"} 0`, // skipped by its breaker and the deadline: not requests
		`bridge_dsp_responses_total{dsp="b",outcome="skipped_deadline"} 1`,
		`bridge_dsp_nonbids_total{dsp="b",reason="skipped_deadline"} 1`,
		`bridge_dsp_requests_total{dsp="c"} 1`, // sent, then cut off by our caller
		`bridge_dsp_responses_total{dsp="c",outcome="cancelled"} 1`,
		`bridge_dsp_latency_seconds_count{dsp="c"} 0`, // not the DSP's round trip
		`bridge_auctions_total{outcome="cancelled"} 1`,
		`bridge_dsp_bids_total{dsp="a"} 2`,
		`bridge_dsp_responses_total{dsp="b",outcome="breaker_open"} 1`,
		`bridge_dsp_nonbids_total{dsp="b",reason="breaker_open"} 1`,
		`bridge_dsp_rejected_bids_total{dsp="a",reason="below_floor"} 1`,
		`bridge_dsp_latency_seconds_bucket{dsp="a",le="0.005"} 1`,
		`bridge_dsp_latency_seconds_count{dsp="b"} 0`,
		`bridge_auctions_total{outcome="won"} 1`,
		`bridge_auction_overhead_seconds_bucket{le="0.0001"} 1`, // the cancelled one
		`bridge_auction_overhead_seconds_bucket{le="0.00025"} 2`,
		`bridge_auction_wins_total{dsp="a"} 1`,
		`bridge_http_requests_total{code="200",route="/bid"} 1`,
		`bridge_http_requests_total{code="401",route="/payment-details/{id}"} 1`,
		`bridge_http_requests_total{code="404",route="other"} 1`,
		`bridge_bid_duration_seconds_count{route="/bid"} 1`,
		`bridge_win_commit_auctions_bucket{le="1"} 1`,
		`bridge_win_commit_auctions_bucket{le="4"} 1`,
		`bridge_win_commit_auctions_bucket{le="8"} 2`,
		`bridge_win_commit_auctions_count 2`,
		`bridge_win_commit_auctions_sum 6`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
	if strings.Contains(out, "secret-id") || strings.Contains(out, `dsp_requests_total{dsp=""}`) {
		t.Error("a request value leaked into a label")
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	m := New()
	log := slog.New(slog.DiscardHandler)
	if code, _ := body(t, m.Handler(log, false), "/debug/pprof/"); code != 404 {
		t.Fatalf("pprof off: %d", code)
	}
	if code, out := body(t, m.Handler(log, true), "/debug/pprof/"); code != 200 || !strings.Contains(out, "goroutine") {
		t.Fatalf("pprof on: %d", code)
	}
}

func TestServerShutdown(t *testing.T) {
	m := New()
	s, err := Listen("127.0.0.1:0", m.Handler(slog.New(slog.DiscardHandler), false), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}
