package config

import "fmt"

// checkDSPGuards checks what bounds a DSP's cost to the bridge: its
// headers, tmax allowance, bid bound and breaker rate. at names the entry.
func checkDSPGuards(at string, d DSP) []string {
	var p []string
	for _, h := range checkHeaders(d.Headers) {
		p = append(p, fmt.Sprintf("%s: %s", at, h))
	}
	if d.TMaxAllowance < 0 {
		p = append(p, fmt.Sprintf("%s: tmax_allowance %s must not be negative", at, d.TMaxAllowance))
	} else if d.Timeout > 0 && d.Timeout-d.TMaxAllowance < MinDSPTMax {
		p = append(p, fmt.Sprintf("%s: timeout %s minus tmax_allowance %s leaves less than %s: the DSP would never be called", at, d.Timeout, d.TMaxAllowance, MinDSPTMax))
	}
	if d.MaxBidsPerImp < 1 || d.MaxBidsPerImp > MaxBidsPerImpLimit {
		p = append(p, fmt.Sprintf("%s: max_bids_per_imp %d must be 1..%d", at, d.MaxBidsPerImp, MaxBidsPerImpLimit))
	}
	if err := checkRate(d.Breaker); d.Breaker.IsEnabled() && err != "" {
		p = append(p, fmt.Sprintf("%s: breaker %s", at, err))
	}
	return p
}

// MaxBidsPerImpLimit caps dsps[].max_bids_per_imp: every bid considered is
// validated inside the auction's deadline.
const MaxBidsPerImpLimit = 100

// checkMetricsListen is checkListen for the metrics port, whose own key
// metrics.allow_public opens it.
func checkMetricsListen(addr string, allowPublic bool) string {
	if err := checkListen(addr, true); err != "" || allowPublic || checkListen(addr, false) == "" {
		return err
	}
	return fmt.Sprintf("%q is not a loopback address; metrics (and pprof, when on) have no authentication, so set metrics.allow_public: true only if a firewall protects the port (allow_public_listen does not open it)", addr)
}

// MaxBreakerWindow bounds breaker.window: the window is kept in memory per
// DSP, and a rate over more calls reacts too late to help anyway.
const MaxBreakerWindow = 1000

// checkRate checks breaker.failure_rate and breaker.window ("" if fine).
func checkRate(b Breaker) string {
	r := b.Rate()
	switch {
	case !(r >= 0 && r <= 1):
		return fmt.Sprintf("failure_rate %v must be 0..1 (0: off)", r)
	case r > 0 && (b.Window < 2 || b.Window > MaxBreakerWindow):
		return fmt.Sprintf("window %d must be 2..%d calls when failure_rate is set", b.Window, MaxBreakerWindow)
	}
	return ""
}
