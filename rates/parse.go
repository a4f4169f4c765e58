package rates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
)

// MaxRateNanos bounds a rate: 1 000 000 USD per ADS. Anything above is a
// broken feed, not a price.
const MaxRateNanos = 1_000_000 * 1_000_000_000

// maxNumberLen bounds the rate's text; no real rate needs more digits.
const maxNumberLen = 64

// number is JSON's number syntax with its exponent captured.
var number = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?(?:[eE]([-+]?[0-9]{1,4}))?$`)

// ErrBadRate is the reason a feed's answer holds no usable rate.
var ErrBadRate = errors.New("rates: no usable rate")

// ParseAnswer reads the feed's JSON body {"rate": …} and returns the rate's
// text exactly as sent. The rate may be a JSON number (what the AdsOperator
// sends) or a string holding one (the AdServer accepts any PHP numeric).
func ParseAnswer(body []byte) (string, error) {
	var doc struct {
		Rate json.RawMessage `json:"rate"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("%w: not a JSON object: %v", ErrBadRate, err)
	}
	raw := bytes.TrimSpace(doc.Rate)
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("%w: no \"rate\" in the answer", ErrBadRate)
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadRate, err)
		}
		if text == "" {
			return "", fmt.Errorf("%w: \"rate\" is an empty string", ErrBadRate)
		}
	}
	return text, nil
}

// ToNanos converts a decimal rate (USD per ADS, JSON number syntax, exponent
// allowed) into nano-USD exactly, rounding to the nearest nano-USD (half
// up): the feed's digits beyond 1e-9 USD are below anything a view's value
// can show. No float is involved. It refuses non-positive rates, rates that
// round to 0 and rates above MaxRateNanos.
func ToNanos(text string) (int64, error) {
	m := number.FindStringSubmatch(text)
	if len(text) > maxNumberLen || m == nil {
		return 0, fmt.Errorf("%w: %q is not a positive decimal number", ErrBadRate, text)
	}
	if m[3] != "" {
		// Bounded before big.Rat sees it: 1e9999 would cost real time.
		if e, _ := strconv.Atoi(m[3]); e < -30 || e > 30 {
			return 0, fmt.Errorf("%w: %q is out of range", ErrBadRate, text)
		}
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || r.Sign() <= 0 {
		return 0, fmt.Errorf("%w: %q is not a positive decimal number", ErrBadRate, text)
	}
	r.Mul(r, big.NewRat(1_000_000_000, 1))
	r.Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() || n.Int64() > MaxRateNanos {
		return 0, fmt.Errorf("%w: %q is above %d USD per ADS", ErrBadRate, text, MaxRateNanos/1_000_000_000)
	}
	if n.Sign() == 0 {
		return 0, fmt.Errorf("%w: %q is below 0.0000000005 USD per ADS", ErrBadRate, text)
	}
	return n.Int64(), nil
}
