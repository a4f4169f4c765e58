package auction

import (
	"math/bits"
	"strconv"
)

// decimalMicros is priceMicros for the price nearly every DSP sends: a
// plain decimal ("1.25": no sign, no exponent, at most 18 digits of which
// at most 15 after the point) at a positive rate. It computes the same
// floor(price × rateNanos / 1000) exactly in 128-bit integers instead of
// big.Rat (about twenty allocations and a regexp match per bid). ok is
// false for any other price, which then takes the exact general path.
func decimalMicros(s string, rateNanos int64) (micros int64, ok bool, err error) {
	if rateNanos <= 0 || len(s) == 0 || len(s) > maxPriceLen {
		return 0, false, nil
	}
	var n uint64 // the digits without the point
	digits, frac, i := 0, -1, 0
	if s[0] == '0' {
		i, digits = 1, 1
		if len(s) > 1 && s[1] != '.' {
			return 0, false, nil // "01": not JSON
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0 && digits > 0:
			frac = 0
		default:
			return 0, false, nil // a sign, an exponent, anything else
		}
		if digits > 18 {
			return 0, false, nil
		}
	}
	if digits == 0 || frac == 0 || frac > 15 {
		return 0, false, nil // "", "1.": not JSON; more fraction digits: the general path
	}
	frac = max(frac, 0)
	// The same range check as the general path, on the same float.
	f, perr := strconv.ParseFloat(s, 64)
	if perr != nil {
		return 0, false, nil
	}
	if !(f > 0 && f <= maxPriceUnits) {
		return 0, true, errPriceRange
	}
	div := uint64(1000)
	for range frac {
		div *= 10
	}
	hi, lo := bits.Mul64(n, uint64(rateNanos))
	if hi >= div {
		return 0, false, nil // a quotient beyond 64 bits: let big.Rat say so
	}
	q, _ := bits.Div64(hi, lo, div)
	if q > maxPriceMicros {
		return 0, true, errPriceRange
	}
	return int64(q), true, nil
}
