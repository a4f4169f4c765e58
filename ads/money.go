package ads

import (
	"math/big"
)

// ClicksPerADS is the number of clicks (the protocol's money unit) in 1 ADS.
const ClicksPerADS = 100_000_000_000

// ViewValue is what one billed view is worth in clicks (DECISIONS §2):
// floor(price_usd_cpm / 1000 / ads_usd * 1e11), computed exactly in integers.
// priceMicros is the CPM in micro-USD, rateNanos the USD price of 1 ADS in
// nano-USD: value = floor(priceMicros * 1e11 / rateNanos). It returns 0 for
// non-positive inputs and saturates at the int64 maximum.
func ViewValue(priceMicros, rateNanos int64) int64 {
	if priceMicros <= 0 || rateNanos <= 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(priceMicros), big.NewInt(ClicksPerADS))
	n.Quo(n, big.NewInt(rateNanos))
	if !n.IsInt64() {
		return 1<<63 - 1
	}
	return n.Int64()
}
