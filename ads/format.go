package ads

import (
	"math/big"
	"strings"
)

// FormatDecimal writes n / 10^scale exactly (no float anywhere), with
// trailing zeros trimmed down to minDecimals: FormatDecimal(2500, 6, 2) =
// "0.0025".
func FormatDecimal(n *big.Int, scale, minDecimals int) string {
	sign := ""
	if n.Sign() < 0 {
		sign = "-"
	}
	digits := new(big.Int).Abs(n).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-scale], digits[len(digits)-scale:]
	keep := len(strings.TrimRight(frac, "0"))
	frac = frac[:max(keep, min(minDecimals, scale))]
	if frac == "" {
		return sign + whole
	}
	return sign + whole + "." + frac
}

// FormatADS writes clicks as ADS (1 ADS = ClicksPerADS = 1e11 clicks): 5000000000 → "0.05".
func FormatADS(clicks int64) string {
	return FormatDecimal(big.NewInt(clicks), 11, 2)
}

// FormatSpendUSD writes the USD spend of billed views from the sum of their
// micro-USD CPM prices: each view costs price/1000, so the spend in USD is
// sum / 1e9, shown exactly: 2500000 (one view at $2.50 CPM) → "0.0025".
func FormatSpendUSD(sumPriceMicros int64) string { return FormatUSDNanos(sumPriceMicros) }

// FormatUSDNanos writes a nano-USD amount as USD: 1 → "0.000000001".
func FormatUSDNanos(nanos int64) string {
	return FormatDecimal(big.NewInt(nanos), 9, 2)
}

// FormatUSDMicros writes a micro-USD amount as USD: 2500000 → "2.50".
func FormatUSDMicros(micros int64) string {
	return FormatDecimal(big.NewInt(micros), 6, 2)
}

// FormatPPM writes parts per million as a decimal fraction: 150000 →
// "0.15", 1000000 → "1". It is valid JSON number text.
func FormatPPM(ppm int64) string {
	return FormatDecimal(big.NewInt(ppm), 6, 0)
}
