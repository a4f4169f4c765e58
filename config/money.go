package config

import (
	"fmt"
	"net/url"
	"time"
)

// Bounds of the money settings given in parts per million (ads.PPM = 1).
const (
	// ppmScale is the number of decimals of fees and adjustments.
	ppmScale = 6
	ppmOne   = 1_000_000
	// MaxBidAdjustment bounds dsps[].bid_adjustment (10): enough to favour a
	// DSP, and small enough that price × adjustment stays inside int64.
	MaxBidAdjustment = 10 * ppmOne
	// MinRateRefresh is the shortest money.rate_refresh.
	MinRateRefresh = time.Second
)

// ParsePPM parses a decimal fraction or multiplier ("0.15", "1") into parts
// per million, exactly; more than 6 decimals is an error.
func ParsePPM(s string) (int64, error) { return ParseDecimal(s, ppmScale) }

// FeePPM is money.fee in parts per million (0 when unset).
func (m Money) FeePPM() int64 {
	n, _ := ParsePPM(m.Fee)
	return n
}

// BidAdjustmentPPM is dsps[].bid_adjustment in parts per million (1e6, no
// change, when unset).
func (d DSP) BidAdjustmentPPM() int64 {
	if d.BidAdjustment == "" {
		return ppmOne
	}
	n, _ := ParsePPM(d.BidAdjustment)
	return n
}

// checkBidAdjustment explains what is wrong with a bid adjustment, or "".
func checkBidAdjustment(s string) string {
	n, err := ParsePPM(s)
	if err != nil || n <= 0 || n > MaxBidAdjustment {
		return fmt.Sprintf("%q must be a decimal multiplier above 0 and at most 10 with at most 6 decimals (1: none, 0.85: the DSP bids gross)", s)
	}
	return ""
}

// validateFeeAndFeed checks money.fee and the rate feed settings.
func (c *Config) validateFeeAndFeed() []string {
	var p []string
	m := c.Money
	if n, err := ParsePPM(m.Fee); m.Fee != "" && (err != nil || n >= ppmOne) {
		p = append(p, fmt.Sprintf("money.fee: %q must be a decimal fraction from 0 up to (not including) 1 with at most 6 decimals (0.15 keeps 15 %%)", m.Fee))
	}
	if m.RateURL == "" {
		return p
	}
	if u, err := url.Parse(m.RateURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p = append(p, fmt.Sprintf("money.rate_url: %q is not an http(s) base URL without query (the bridge asks {rate_url}/api/v1/exchange-rate/{time}/USD)", m.RateURL))
	}
	if m.RateRefresh < MinRateRefresh {
		p = append(p, fmt.Sprintf("money.rate_refresh: %s is shorter than %s", m.RateRefresh, MinRateRefresh))
	}
	if m.RateMaxAge < m.RateRefresh {
		p = append(p, fmt.Sprintf("money.rate_max_age: %s is shorter than money.rate_refresh (%s)", m.RateMaxAge, m.RateRefresh))
	}
	return p
}
