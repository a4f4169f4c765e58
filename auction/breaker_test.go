package auction

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testcfg"
)

func TestOutcomeWindow(t *testing.T) {
	// 40 % failing, never twice in a row: S F S F S, repeated.
	pattern := []bool{false, true, false, true, false}
	for _, tc := range []struct {
		rate    float64
		size    int
		tripsAt int // the call after which it is tripped, 0: never
	}{
		{0.3, 20, 20}, // 8 of 20 >= 6, as soon as the window is full
		{0.4, 20, 20}, // 8 of 20 >= 8
		{0.5, 20, 0},  // 8 of 20 < 10
		{0.7, 10, 0},  // 4 of 10 < 7 (not 8: 0.7 × 10 is 7.000000000000001)
		{0.4, 5, 5},
	} {
		w := newOutcomeWindow(tc.size, tc.rate)
		got := 0
		for i := range 100 {
			w.record(w.generation(), pattern[i%len(pattern)])
			if w.tripped() && got == 0 {
				got = i + 1
			}
		}
		if got != tc.tripsAt {
			t.Errorf("rate %v over %d: tripped after call %d, want %d", tc.rate, tc.size, got, tc.tripsAt)
		}
		if f, n := w.recent(); n != tc.size || f != tc.size*2/5 {
			t.Errorf("rate %v over %d: recent %d of %d", tc.rate, tc.size, f, n)
		}
	}
	w := newOutcomeWindow(4, 0.5)
	stale := w.generation()
	w.reset() // the breaker changed state
	w.record(stale, true)
	w.record(stale, true)
	if f, n := w.recent(); f != 0 || n != 0 {
		t.Fatalf("outcomes of calls begun before the reset were kept: %d of %d", f, n)
	}
	var none *outcomeWindow
	none.record(none.generation(), true)
	if none.tripped() {
		t.Fatal("a nil window tripped")
	}
}

// patternDSP answers bid requests with no bid, except that calls 1, 3, 6,
// 8, ... (two of every five, never two in a row) fail: calls 1, 6, ... hang
// until cut off, calls 3, 8, ... answer 503.
func patternDSP(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch n := calls.Add(1) - 1; n % 5 {
		case 1: // a timeout
			<-r.Context().Done()
			return
		case 3: // an error: counts the same, and costs no waiting
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// A DSP failing 40 % of the time (timeouts and 5xx), never twice in a row, never trips the
// consecutive-failures breaker; with failure_rate 0.3 over 20 calls it is
// opened, with 0.5 it is not.
func TestBreakerTripsOnFailureRate(t *testing.T) {
	for _, tc := range []struct {
		rate  float64
		trips bool
	}{{0.3, true}, {0.5, false}, {0, false}} {
		srv, calls := patternDSP(t)
		d := testDSP("flaky", srv.URL)
		// Generous, so that on a loaded machine a quick answer is not
		// late: one more failure would move where the breaker trips.
		d.Timeout = 300 * time.Millisecond
		d.Breaker = testcfg.Breaker(5, time.Minute)
		rate := tc.rate
		d.Breaker.FailureRate, d.Breaker.Window = &rate, 20
		cfg := auctionConfig(d)
		cfg.Auction.TMax = 500 * time.Millisecond
		e := newEnvWithSaver(t, cfg, nopSaver{})
		open := 0
		for range 40 {
			if outcomeOf(e.run(e.request(creativePNG)), "flaky") == OutcomeBreakerOpen {
				open++
			}
		}
		st := e.a.DSPStates()[0]
		if tc.trips {
			// Tripped at the first failure once the window was full: call 22
			// (or 20 or 21, should a slow machine make an answer late).
			if n := calls.Load(); st.Breaker != "open" || n < 20 || n > 22 || open != 40-int(n) {
				t.Errorf("rate %v: breaker %s after %d calls, %d auctions skipped it; want open after 22", tc.rate, st.Breaker, calls.Load(), open)
			}
			continue
		}
		if st.Breaker != "closed" || calls.Load() != 40 || open != 0 || st.ConsecutiveFailures > 1 {
			t.Errorf("rate %v: breaker %s, %d calls, %d skipped, %d in a row; want closed and every call made", tc.rate, st.Breaker, calls.Load(), open, st.ConsecutiveFailures)
		}
		if tc.rate > 0 && (st.RecentCalls != 20 || st.RecentFailures != 8) {
			t.Errorf("rate %v: window %d of %d, want 8 of 20", tc.rate, st.RecentFailures, st.RecentCalls)
		}
	}
}

// A DSP whose timeout is not shorter than what is left of the auction is
// bounded by the auction's own context (no timer of its own); a shorter
// timeout gets its own deadline, ending as the DSP's timeout.
func TestCallContextSharesTheAuctionDeadline(t *testing.T) {
	dspCtx, cancel := context.WithDeadlineCause(context.Background(), time.Now().Add(time.Hour), errAuctionDeadline)
	defer cancel()
	call, done := callContext(context.Background(), dspCtx, time.Hour, false, false)
	done()
	if call != dspCtx {
		t.Fatal("a call bounded by the auction's deadline got a context of its own")
	}
	call, done = callContext(context.Background(), dspCtx, time.Nanosecond, true, false)
	defer done()
	<-call.Done()
	if !errors.Is(context.Cause(call), errDSPTimeout) || dspCtx.Err() != nil {
		t.Fatalf("own timeout: cause %v, auction %v", context.Cause(call), dspCtx.Err())
	}
}
