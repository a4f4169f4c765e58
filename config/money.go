package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
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

func (c *Config) validateMoney() []string {
	var p []string
	if c.Money.AdsUSD == "" {
		if c.Money.RateURL == "" {
			p = append(p, "money.ads_usd: required unless money.rate_url is set (the USD price of 1 ADS, e.g. 0.05)")
		}
	} else if n, err := ParseDecimal(c.Money.AdsUSD, 9); err != nil || n <= 0 {
		p = append(p, fmt.Sprintf("money.ads_usd: %q must be a positive decimal with at most 9 decimals", c.Money.AdsUSD))
	}
	for cur, rate := range c.Money.Rates {
		if !currencyRe.MatchString(cur) {
			p = append(p, fmt.Sprintf("money.rates.%s: not a 3-letter currency code", cur))
		}
		if n, err := ParseDecimal(rate, 9); err != nil || n <= 0 {
			p = append(p, fmt.Sprintf("money.rates.%s: %q must be a positive decimal with at most 9 decimals", cur, rate))
		}
	}
	return append(p, c.validateFeeAndFeed()...)
}

// ParseDecimal parses a non-negative decimal string into an integer scaled by
// 10^scale, exactly ("0.05", 9 → 50000000). More decimals than scale is an error.
func ParseDecimal(s string, scale int) (int64, error) {
	if !decimalRe.MatchString(s) {
		return 0, fmt.Errorf("%q is not a decimal", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > scale {
		return 0, fmt.Errorf("%q has more than %d decimals", s, scale)
	}
	frac += strings.Repeat("0", scale-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

// AdsUSDNanos is money.ads_usd in nano-USD per ADS.
func (m Money) AdsUSDNanos() int64 {
	n, _ := ParseDecimal(m.AdsUSD, 9)
	return n
}

// RateNanos is the USD price of one unit of currency cur in nano-USD
// (1e9 for USD itself), and false when no rate is configured.
func (m Money) RateNanos(cur string) (int64, bool) {
	if cur == "USD" {
		return 1_000_000_000, true
	}
	n, err := ParseDecimal(m.Rates[cur], 9)
	return n, err == nil && n > 0
}
