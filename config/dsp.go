package config

import "time"

// Breaker configures a circuit breaker.
type Breaker struct {
	Enabled *bool `mapstructure:"enabled"`
	// Failures is the number of consecutive failures that opens the breaker.
	Failures uint32 `mapstructure:"failures"`
	// OpenFor is how long an open breaker rejects calls before probing.
	OpenFor time.Duration `mapstructure:"open_for"`
	// HalfOpenRequests is how many probe calls a half-open breaker lets through.
	HalfOpenRequests uint32 `mapstructure:"half_open_requests"`
	// FailureRate (0..1, 0: off) also opens the breaker when at least this
	// share of the last Window calls failed. A pointer, so that a DSP can
	// set 0 against a default.
	FailureRate *float64 `mapstructure:"failure_rate"`
	// Window is how many of the latest calls FailureRate looks at.
	Window int `mapstructure:"window"`
}

// IsEnabled reports whether the breaker is on (the default).
func (b Breaker) IsEnabled() bool { return b.Enabled == nil || *b.Enabled }

// Rate is FailureRate, 0 (off) when unset.
func (b Breaker) Rate() float64 {
	if b.FailureRate == nil {
		return 0
	}
	return *b.FailureRate
}

// DSP is one demand partner; everything about it lives here.
type DSP struct {
	Name     string            `mapstructure:"name"`
	Endpoint string            `mapstructure:"endpoint"`
	Timeout  time.Duration     `mapstructure:"timeout"`
	Headers  map[string]string `mapstructure:"headers"`
	// Dialect is the OpenRTB version the DSP speaks: "2.6" (default) or "2.5".
	Dialect string `mapstructure:"dialect"`
	// Currency the DSP bids in (default USD); others need money.rates.<CUR>.
	Currency string `mapstructure:"currency"`
	// Seat, if set, is the only seat accepted from this DSP.
	Seat string `mapstructure:"seat"`
	// Gzip compresses requests and asks for compressed answers.
	Gzip bool `mapstructure:"gzip"`
	// MaxConns bounds concurrent connections (and so calls) to the DSP.
	MaxConns int `mapstructure:"max_conns"`
	// ClickURLField names the bid.ext field that holds the click-through URL.
	ClickURLField string `mapstructure:"click_url_field"`
	// BidAdjustment multiplies the DSP's prices before the auction compares
	// them (decimal, default "1"; e.g. "0.85" for a DSP that bids gross).
	BidAdjustment string `mapstructure:"bid_adjustment"`
	// TMaxAllowance is kept back from the tmax told to the DSP for the
	// network round trip: the DSP is told its time less this.
	TMaxAllowance time.Duration `mapstructure:"tmax_allowance"`
	// MaxBidsPerImp bounds an answer: one with more than imps × this many
	// bids is refused whole (invalid_response).
	MaxBidsPerImp int `mapstructure:"max_bids_per_imp"`
	// Breaker overrides auction.breaker for this DSP.
	Breaker Breaker `mapstructure:"breaker"`
	// AllowNetworks lists CIDR prefixes this DSP's URLs (nurl, burl, ...)
	// may reach although the outbound policy refuses them (loopback,
	// private, link-local, ...): for a DSP on a private link.
	AllowNetworks []string `mapstructure:"allow_networks"`
	// QPS caps the bid requests sent to this DSP per second (0: no cap).
	QPS int `mapstructure:"qps"`
	// Only limits what the DSP is offered (empty: everything).
	Only DSPOnly `mapstructure:"only"`
	// Require lists bid fields the DSP must fill (crid, adomain, cat, ...).
	Require []string `mapstructure:"require"`
	// PriceMissing is what a bid without a price means: "reject" (default)
	// or "fixed" (it bids FixedCPM).
	PriceMissing string `mapstructure:"price_missing"`
	// FixedCPM is the CPM, in the DSP's currency, of a bid without a price.
	FixedCPM string `mapstructure:"fixed_cpm"`
	// Privacy overrides privacy.* for this DSP, field by field.
	Privacy Privacy `mapstructure:"privacy"`
	// Blocking adds to blocking.* for this DSP.
	Blocking Blocking `mapstructure:"blocking"`
	// Creative says where this DSP's bids carry their creative: "auto"
	// (default: the adm markup when there is one, else the nurl body),
	// "markup" (adm only) or "nurl" (the nurl answers the creative bytes).
	Creative string `mapstructure:"creative"`
	// LossNotices fires the lurl of this DSP's valid bids that lost (best
	// effort, never through the database).
	LossNotices bool `mapstructure:"loss_notices"`
}

// DSPOnly filters what one DSP is offered. Each empty list means "any".
type DSPOnly struct {
	Sizes     []string `mapstructure:"sizes"`     // creative sizes, WxH
	Types     []string `mapstructure:"types"`     // creative types: image, video
	Countries []string `mapstructure:"countries"` // ISO-3166-1 alpha-2 or alpha-3
	Devices   []string `mapstructure:"devices"`   // desktop, mobile, tablet, tv
}

// IsEmpty reports whether no filter is set.
func (o DSPOnly) IsEmpty() bool {
	return len(o.Sizes)+len(o.Types)+len(o.Countries)+len(o.Devices) == 0
}
