package auction

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/adshares/dsp-bridge/config"
)

// dspSet is what a config reload replaces: the DSP clients and the auction
// timings. It is never modified once built, so an auction that loaded it
// keeps a consistent view whatever a reload does meanwhile.
type dspSet struct {
	tmax        time.Duration
	reserve     time.Duration // kept back from DSPs for storing wins and answering
	floorMicros int64
	dsps        []*dspClient
	supply      supply  // supply_chain.*, imp.exp
	traffic     traffic // the invalid-traffic gate
}

// BreakerObserver may be implemented by an Observer that also wants circuit
// breaker state changes (from and to are "closed", "half-open", "open").
type BreakerObserver interface {
	ObserveBreaker(dsp, from, to string)
}

// ReloadSummary says what a Reload changed, by DSP name.
type ReloadSummary struct {
	Added, Changed, Removed, Kept []string
	TMax                          time.Duration
}

// buildSet makes the set for cfg. A DSP whose settings (and exchange rate)
// are unchanged from old keeps its client: connection pool, breaker state
// and calls in flight carry over.
func (a *Auctioneer) buildSet(cfg *config.Config, old *dspSet) (*dspSet, ReloadSummary, error) {
	var sum ReloadSummary
	floor, err := config.ParseDecimal(cfg.Auction.BidFloor, 6)
	if err != nil {
		return nil, sum, fmt.Errorf("auction.bidfloor: %w", err)
	}
	set := &dspSet{
		tmax: cfg.Auction.TMax, floorMicros: floor,
		// A tenth of tmax, at most 100ms, is enough for one commit.
		reserve: min(cfg.Auction.TMax/10, 100*time.Millisecond),
		supply:  newSupply(cfg), traffic: traffic{minHumanScore: cfg.Traffic.MinHumanScore},
	}
	sum.TMax = set.tmax
	prev := map[string]*dspClient{}
	if old != nil {
		for _, d := range old.dsps {
			prev[d.cfg.Name] = d
		}
	}
	capture := a.payloads && a.log.Enabled(context.Background(), slog.LevelDebug)
	for i, d := range cfg.DSPs {
		rate, ok := cfg.Money.RateNanos(d.Currency)
		if !ok {
			return nil, sum, fmt.Errorf("dsps[%d] (%s): no money.rates.%s", i, d.Name, d.Currency)
		}
		if p := prev[d.Name]; p != nil {
			delete(prev, d.Name)
			if reflect.DeepEqual(p.cfg, d) && p.rateNanos == rate {
				// A copy shares the pool, breaker and slots; only the
				// position (the tie-break order) may differ.
				c := *p
				c.order = i
				c.policy = newPolicy(cfg, d) // privacy.* or blocking.* may have changed
				set.dsps = append(set.dsps, &c)
				sum.Kept = append(sum.Kept, d.Name)
				continue
			}
			sum.Changed = append(sum.Changed, d.Name)
		} else if old != nil {
			sum.Added = append(sum.Added, d.Name)
		}
		c := newDSPClient(d, i, rate, a.breakerChanged)
		c.capture = capture
		c.policy, c.bucket, c.stats = newPolicy(cfg, d), newBucket(d.QPS, a.clock), &dspStats{}
		set.dsps = append(set.dsps, c)
	}
	for _, d := range old.dspsOrNil() {
		if _, gone := prev[d.cfg.Name]; gone {
			sum.Removed = append(sum.Removed, d.cfg.Name)
		}
	}
	return set, sum, nil
}

func (s *dspSet) dspsOrNil() []*dspClient {
	if s == nil {
		return nil
	}
	return s.dsps
}

func (a *Auctioneer) breakerChanged(name string, from, to gobreaker.State) {
	a.log.Warn("dsp circuit breaker changed state", "dsp", name, "from", from.String(), "to", to.String())
	if bo, ok := a.observer.(BreakerObserver); ok {
		bo.ObserveBreaker(name, from.String(), to.String())
	}
}

// Reload swaps in the DSP list, DSP timeouts, breaker settings, auction.tmax
// and auction.bidfloor of cfg (already validated). Auctions running keep the
// set they started with. Clients of removed or changed DSPs are closed once
// no auction can still be using them.
func (a *Auctioneer) Reload(cfg *config.Config) (ReloadSummary, error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	old := a.set.Load()
	set, sum, err := a.buildSet(cfg, old)
	if err != nil {
		return sum, err
	}
	a.set.Store(set)
	a.cr.fetch.set(cfg.DSPs) // creative fetches follow the new allow_networks
	var retired []*dspClient
	for _, d := range old.dsps {
		if !set.uses(d) {
			retired = append(retired, d)
		}
	}
	if len(retired) > 0 {
		// An auction never outlives its tmax; then the pools are idle.
		time.AfterFunc(old.tmax+time.Second, func() {
			for _, d := range retired {
				d.close()
			}
		})
	}
	return sum, nil
}

// uses reports whether the set still uses d's connection pool.
func (s *dspSet) uses(d *dspClient) bool {
	for _, n := range s.dsps {
		if n.transport == d.transport {
			return true
		}
	}
	return false
}

// DSPState is one configured DSP as the auction sees it now.
type DSPState struct {
	Name string `json:"name"`
	// Breaker is "closed", "half-open", "open" or "disabled".
	Breaker             string `json:"breaker"`
	ConsecutiveFailures uint32 `json:"consecutive_failures"`
	InFlight            int    `json:"in_flight"`
	TimeoutMS           int64  `json:"timeout_ms"`
	// QPS is the dsps[].qps cap (0: none); SkippedQPS and SkippedFilter
	// count the auctions it was not asked in since start, and Only shows
	// its dsps[].only filters.
	QPS           int    `json:"qps"`
	SkippedQPS    uint64 `json:"skipped_qps"`
	SkippedFilter uint64 `json:"skipped_filter"`
	Only          string `json:"only"`
	// RecentFailures of RecentCalls are the breaker's failure-rate window
	// (both 0 without breaker.failure_rate).
	RecentFailures int `json:"recent_failures"`
	RecentCalls    int `json:"recent_calls"`
}

// DSPStates lists the configured DSPs in config order with their breaker
// state (for /readyz and the metrics).
func (a *Auctioneer) DSPStates() []DSPState {
	set := a.set.Load()
	out := make([]DSPState, 0, len(set.dsps))
	for _, d := range set.dsps {
		s := DSPState{Name: d.cfg.Name, Breaker: "disabled", InFlight: len(d.slots), TimeoutMS: d.cfg.Timeout.Milliseconds(),
			QPS: d.cfg.QPS, SkippedQPS: d.stats.skippedQPS.Load(), SkippedFilter: d.stats.skippedFilter.Load(), Only: d.policy.only.summary()}
		if d.breaker != nil {
			s.Breaker = d.breaker.state()
			s.ConsecutiveFailures = d.breaker.counts().ConsecutiveFailures
			s.RecentFailures, s.RecentCalls = d.breaker.window.recent()
		}
		out = append(out, s)
	}
	return out
}

// TMax is the auction deadline in use.
func (a *Auctioneer) TMax() time.Duration { return a.set.Load().tmax }

// Check is the `dsps` readiness detail: every DSP's breaker. An open
// breaker never makes the bridge unready: the other DSPs still bid, and
// the AdServer gets a fast no-bid for the rest.
func (a *Auctioneer) Check(context.Context) (string, any, bool) {
	states := a.DSPStates()
	open := 0
	for _, s := range states {
		if s.Breaker == "open" {
			open++
		}
	}
	return "dsps", map[string]any{"ok": true, "count": len(states), "open": open,
		"tmax_ms": a.TMax().Milliseconds(), "dsps": states}, true
}

// logPayloads writes a DSP's request and answer at debug level, only when
// log.payloads is set (they are large and may hold user data).
func (a *Auctioneer) logPayloads(auctionID string, ans *answer) {
	if !ans.dsp.capture {
		return
	}
	a.log.Debug("dsp exchange", "auction_id", auctionID, "dsp", ans.result.DSP, "outcome", string(ans.result.Outcome),
		"status", ans.result.Status, "latency_ms", float64(ans.result.Latency.Microseconds())/1000,
		"request", json.RawMessage(ans.reqBody), "response", string(ans.respBody))
}
