package rates

import (
	"context"
	"log/slog"

	"github.com/adshares/dsp-bridge/ads"
)

// jumpFactor is how far a new rate may be from the last one before the
// bridge warns: a real ADS price rarely halves or doubles between two
// readings, a misplaced decimal point in money.ads_usd (or a broken feed)
// always does, and every view billed at it is paid out at that rate.
const jumpFactor = 2

// jumped reports whether to is more than jumpFactor times from, either way.
func jumped(from, to int64) bool {
	if from <= 0 || to <= 0 {
		return false
	}
	return to > from*jumpFactor || from > to*jumpFactor
}

// warnIfJumped logs a warning when the rate about to be used is more than
// jumpFactor from the last one. It never refuses the rate: the operator
// decides; the bridge makes sure they are told.
func warnIfJumped(log *slog.Logger, what string, from, to int64) bool {
	if !jumped(from, to) {
		return false
	}
	log.Warn("ads rate changed by more than a factor of 2; check "+what,
		"previous_usd", ads.FormatUSDNanos(from), "new_usd", ads.FormatUSDNanos(to))
	return true
}

// checkStaticJump compares a static money.ads_usd with the rate the last
// billed view was valued at.
func (f *Feed) checkStaticJump(ctx context.Context) {
	if f.Store == nil || f.Static.Nanos == 0 {
		return
	}
	last, err := f.Store.LastBilledRate(ctx)
	if err != nil {
		return // no billed view yet, or the database will say so elsewhere
	}
	warnIfJumped(f.Log, "money.ads_usd", last, f.Static.Nanos)
}
