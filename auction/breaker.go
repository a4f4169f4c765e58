package auction

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/adshares/dsp-bridge/config"
)

// breaker is one DSP's circuit breaker: gobreaker's state machine (closed,
// open for open_for, half-open probes), told only about outcomes that are
// the DSP's doing. It trips on `failures` consecutive failures, or (with a
// failure_rate) when that share of the last `window` calls failed:
// gobreaker counts per time interval, not over the last N calls, so the
// window is kept here.
type breaker struct {
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
	window *outcomeWindow // nil: no failure rate
}

// newBreaker builds the breaker of d, or nil when it is disabled.
func newBreaker(d config.DSP, onState func(name string, from, to gobreaker.State)) *breaker {
	if !d.Breaker.IsEnabled() {
		return nil
	}
	failures := d.Breaker.Failures
	b := &breaker{}
	if rate := d.Breaker.Rate(); rate > 0 && d.Breaker.Window > 0 {
		b.window = newOutcomeWindow(d.Breaker.Window, rate)
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        d.Name,
		MaxRequests: d.Breaker.HalfOpenRequests,
		Timeout:     d.Breaker.OpenFor,
		// Called under gobreaker's lock after a failure in the closed state.
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= failures || b.window.tripped()
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			// Every state starts afresh, like gobreaker's own counts: a
			// breaker that just closed must not trip on the calls that
			// opened it.
			b.window.reset()
			if onState != nil {
				onState(name, from, to)
			}
		},
	})
	return b
}

// allow asks to call the DSP. report must be called with the call's
// outcome; probe says a half-open breaker let the call through, so its
// verdict decides whether the DSP is called again.
func (b *breaker) allow() (report func(Outcome), probe bool, err error) {
	gen := b.window.generation()
	done, err := b.cb.Allow()
	if err != nil {
		return nil, false, err
	}
	// Right after Allow the state is still the one that admitted the call:
	// leaving half-open takes a probe's report, leaving closed a failure.
	probe = b.cb.State() == gobreaker.StateHalfOpen
	return func(o Outcome) {
		failure, counts := verdict(o)
		switch {
		case counts:
			b.window.record(gen, failure) // before done: ReadyToTrip reads it
			done(!failure)
		case probe:
			// A probe is never cut off by the caller (callContext), so this
			// cannot happen; if it did, an unreported probe would keep the
			// breaker half-open for good, so it counts as a failure.
			done(false)
		}
	}, probe, nil
}

// state is the breaker's state ("closed", "half-open", "open").
func (b *breaker) state() string { return b.cb.State().String() }

// counts is gobreaker's counts of the current state.
func (b *breaker) counts() gobreaker.Counts { return b.cb.Counts() }

// verdict says whether an outcome is a failure of the DSP (it timed out or
// failed), and whether it says anything about the DSP at all: a call cut
// off because our caller hung up or the bridge stopped does not.
func verdict(o Outcome) (failure, counts bool) {
	switch o {
	case OutcomeTimeout, OutcomeError:
		return true, true
	case OutcomeCancelled:
		return false, false
	}
	return false, true
}

// callContext bounds one call: the DSP's limit within the auction's
// context dspCtx. own says the limit is the DSP's timeout, shorter than
// what is left of the auction; otherwise dspCtx itself bounds the call (it
// ends first anyway), with no timer of its own. A half-open breaker's
// probe keeps running when the caller hangs up (still bounded by the
// auction's deadline): its verdict decides whether the DSP is called
// again, and a probe never reported would keep the breaker half-open,
// refusing every call.
func callContext(ctx, dspCtx context.Context, limit time.Duration, own, probe bool) (context.Context, context.CancelFunc) {
	if !probe {
		if !own {
			return dspCtx, func() {}
		}
		return context.WithTimeoutCause(dspCtx, limit, errDSPTimeout)
	}
	deadline, _ := dspCtx.Deadline()
	detached, cancel := context.WithDeadlineCause(context.WithoutCancel(ctx), deadline, errAuctionDeadline)
	call, callCancel := context.WithTimeoutCause(detached, limit, errDSPTimeout)
	return call, func() { callCancel(); cancel() }
}

// outcomeWindow is a DSP's last calls, failed or not, in a ring. All its
// methods accept a nil window (no failure rate): it never trips.
type outcomeWindow struct {
	mu       sync.Mutex
	failed   []bool // the ring
	next     int    // where the next outcome goes
	n        int    // outcomes in the ring (up to len(failed))
	failures int    // failed outcomes in the ring
	trip     int    // failures in a full window that trip the breaker
	gen      uint64 // bumped by reset; outcomes of calls begun before are dropped
}

// newOutcomeWindow keeps size outcomes and trips when at least rate of
// them failed.
func newOutcomeWindow(size int, rate float64) *outcomeWindow {
	// The epsilon keeps 0.7 × 10 (7.000000000000001 in floating point) at 7.
	trip := max(int(math.Ceil(rate*float64(size)-1e-9)), 1)
	return &outcomeWindow{failed: make([]bool, size), trip: trip}
}

// generation identifies the window's current state of the breaker; pass it
// back to record.
func (w *outcomeWindow) generation() uint64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// record adds the outcome of a call begun in generation gen. A call begun
// before the breaker last changed state is dropped, as gobreaker drops it.
func (w *outcomeWindow) record(gen uint64, failure bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen {
		return
	}
	if w.n == len(w.failed) {
		if w.failed[w.next] {
			w.failures--
		}
	} else {
		w.n++
	}
	w.failed[w.next] = failure
	if failure {
		w.failures++
	}
	w.next = (w.next + 1) % len(w.failed)
}

// tripped reports whether the window is full and holds enough failures.
func (w *outcomeWindow) tripped() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n == len(w.failed) && w.failures >= w.trip
}

// reset empties the window (the breaker changed state).
func (w *outcomeWindow) reset() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.failed)
	w.next, w.n, w.failures = 0, 0, 0
	w.gen++
}

// recent is the failures and calls in the window (0, 0 for none).
func (w *outcomeWindow) recent() (failures, calls int) {
	if w == nil {
		return 0, 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures, w.n
}
