package auction

import (
	"context"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/adshares/dsp-bridge/config"
)

// breaker is one DSP's circuit breaker: gobreaker's state machine (closed,
// open for open_for, half-open probes), told only about outcomes that are
// the DSP's doing.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// newBreaker builds the breaker of d, or nil when it is disabled.
func newBreaker(d config.DSP, onState func(name string, from, to gobreaker.State)) *breaker {
	if !d.Breaker.IsEnabled() {
		return nil
	}
	failures := d.Breaker.Failures
	b := &breaker{}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          d.Name,
		MaxRequests:   d.Breaker.HalfOpenRequests,
		Timeout:       d.Breaker.OpenFor,
		ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		OnStateChange: onState,
	})
	return b
}

// allow asks to call the DSP. report must be called with the call's
// outcome; probe says a half-open breaker let the call through, so its
// verdict decides whether the DSP is called again.
func (b *breaker) allow() (report func(Outcome), probe bool, err error) {
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
// context dspCtx. A half-open breaker's probe keeps running when the caller
// hangs up (still bounded by the auction's deadline): its verdict decides
// whether the DSP is called again, and a probe never reported would keep
// the breaker half-open, refusing every call.
func callContext(ctx, dspCtx context.Context, limit time.Duration, probe bool) (context.Context, context.CancelFunc) {
	if !probe {
		return context.WithTimeoutCause(dspCtx, limit, errDSPTimeout)
	}
	deadline, _ := dspCtx.Deadline()
	detached, cancel := context.WithDeadlineCause(context.WithoutCancel(ctx), deadline, errAuctionDeadline)
	call, callCancel := context.WithTimeoutCause(detached, limit, errDSPTimeout)
	return call, func() { callCancel(); cancel() }
}
