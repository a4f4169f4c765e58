package auction

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/bits"
	"regexp"
	"strconv"
)

// maxPriceMicros is the highest CPM accepted: 100 000 USD. Anything above is
// a DSP bug, not a bid, and would only risk overflow downstream.
const maxPriceMicros = 100_000 * 1_000_000

// maxPriceLen and maxPriceUnits bound a price's text and size before the
// exact conversion: no real CPM needs more, in any currency.
const (
	maxPriceLen   = 64
	maxPriceUnits = 1e15
)

// jsonNumber is JSON's number syntax: a price sent as a string must hold one.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

var (
	errPriceMissing = errors.New("no price")
	errPriceNumber  = errors.New("price is not a number")
	errPriceRange   = errors.New("price out of range")
)

// priceMicros converts a DSP's CPM price (as sent, in its currency) into
// micro-USD with exact rational arithmetic, rounding down:
// floor(price × rateNanos / 1000). No float touches the amount.
func priceMicros(price json.Number, rateNanos int64) (int64, error) {
	if price == "" {
		return 0, errPriceMissing
	}
	if m, ok, err := decimalMicros(string(price), rateNanos); ok {
		return m, err
	}
	return priceMicrosExact(price, rateNanos)
}

// priceMicrosExact is priceMicros by big.Rat alone: the path of every price
// decimalMicros does not take (exponents, long or odd numbers), and the
// reference its fuzz target checks decimalMicros against.
func priceMicrosExact(price json.Number, rateNanos int64) (int64, error) {
	if price == "" {
		return 0, errPriceMissing
	}
	// Exact arithmetic on a price with a huge exponent (1e999999) or
	// thousands of digits takes from milliseconds to seconds, inside the
	// auction: bound both before big.Rat sees the text.
	if len(price) > maxPriceLen || !jsonNumber.MatchString(string(price)) {
		return 0, errPriceNumber
	}
	if f, err := strconv.ParseFloat(string(price), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errPriceNumber
	} else if !(f > 0 && f <= maxPriceUnits) {
		return 0, errPriceRange
	}
	r, ok := new(big.Rat).SetString(string(price))
	if !ok {
		return 0, errPriceNumber
	}
	if r.Sign() <= 0 {
		return 0, errPriceRange
	}
	r.Mul(r, new(big.Rat).SetInt64(rateNanos))
	q := new(big.Int).Quo(r.Num(), new(big.Int).Mul(r.Denom(), big.NewInt(1000)))
	if !q.IsInt64() || q.Int64() > maxPriceMicros {
		return 0, errPriceRange
	}
	return q.Int64(), nil
}

// floorInCurrency converts the floor (micro-USD) into micro-units of a
// currency worth rateNanos nano-USD each, rounding up so that a bid at the
// announced floor is never below the real one.
func floorInCurrency(floorMicros, rateNanos int64) int64 {
	if floorMicros <= 0 || rateNanos <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(floorMicros), 1_000_000_000)
	if hi >= uint64(rateNanos) {
		return 1<<63 - 1
	}
	q, rem := bits.Div64(hi, lo, uint64(rateNanos))
	if rem > 0 {
		q++
	}
	if q > 1<<62 {
		return 1<<63 - 1
	}
	return int64(q)
}
