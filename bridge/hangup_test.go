package bridge

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testcfg"
)

// The AdServer hanging up on /bid (its own timeout) cancels the auction's
// DSP calls, but through the real HTTP server too that is not the DSP's
// failure: its breaker, which one failure would open, stays closed.
func TestAdServerHangingUpLeavesTheBreakerAlone(t *testing.T) {
	s := sim(t, dspsim.Options{Mode: dspsim.ModeHang})
	d := testDSP("slow", s.Endpoint())
	d.Breaker = testcfg.Breaker(1, time.Minute)
	e := newEnv(t, auctionConfig(d))
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for s.RequestCount() <= i {
				time.Sleep(time.Millisecond)
			}
			cancel() // the AdServer gives up while the DSP is still thinking
		}()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/bid", strings.NewReader(simpleBid(creativePNG)))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("call %d answered %d, want the caller to have hung up", i, resp.StatusCode)
		}
		cancel()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st := e.demand.Auction.DSPStates()[0]
		if st.InFlight == 0 {
			if st.Breaker != "closed" || st.ConsecutiveFailures != 0 {
				t.Fatalf("after 3 hang-ups: breaker %s, %d failures; want closed, 0", st.Breaker, st.ConsecutiveFailures)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still in flight: %+v", st)
		}
	}
	s.SetMode(dspsim.ModeBid)
	if out := e.bid(simpleBid(creativePNG)); len(out) != 1 || s.RequestCount() != 4 {
		t.Fatalf("after the hang-ups: answer %+v, %d calls; want the DSP asked and winning", out, s.RequestCount())
	}
}
