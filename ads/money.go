package ads

import (
	"math/big"
	"math/bits"
)

// ClicksPerADS is the number of clicks (the protocol's money unit) in 1 ADS.
const ClicksPerADS = 100_000_000_000

// PPM is one whole in parts per million, the integer unit of the operator's
// fee (money.fee 0.15 = 150000) and of bid adjustments
// (dsps[].bid_adjustment 1 = PPM). Six decimals are finer than any
// commercial fee or adjustment, and keep price × adjustment inside int64
// for every price the auction accepts (at most 1e11 micro-USD × 1e7).
const PPM = 1_000_000

// ViewValue is what one billed view is worth in clicks without a fee
// (DECISIONS §2): floor(price_usd_cpm / 1000 / ads_usd * 1e11). It is
// ViewValueAfterFee with a fee of 0.
func ViewValue(priceMicros, rateNanos int64) int64 {
	return ViewValueAfterFee(priceMicros, rateNanos, 0)
}

// ViewValueAfterFee is what one billed view is worth in clicks once the
// operator kept its fee: floor(price × (1 − fee) / 1000 / ads_usd × 1e11),
// computed exactly in integers. priceMicros is the CPM in micro-USD,
// rateNanos the USD price of 1 ADS in nano-USD, feePPM the fee in parts per
// million, so value = floor(priceMicros × (1e6 − feePPM) × 1e5 / rateNanos).
// It returns 0 for non-positive price or rate and for a fee outside
// [0, PPM) (never more than the whole price), and saturates at the int64
// maximum.
func ViewValueAfterFee(priceMicros, rateNanos, feePPM int64) int64 {
	if priceMicros <= 0 || rateNanos <= 0 || feePPM < 0 || feePPM >= PPM {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(priceMicros), big.NewInt(PPM-feePPM))
	n.Mul(n, big.NewInt(ClicksPerADS/PPM))
	n.Quo(n, big.NewInt(rateNanos))
	if !n.IsInt64() {
		return 1<<63 - 1
	}
	return n.Int64()
}

// AdjustPrice applies a bid adjustment (parts per million; PPM leaves the
// price as it is) to a micro-USD CPM: floor(priceMicros × adjustmentPPM /
// 1e6). The auction compares, stores and bills the adjusted price. It
// returns 0 for non-positive inputs and saturates at the int64 maximum;
// it allocates nothing (it runs once per bid).
func AdjustPrice(priceMicros, adjustmentPPM int64) int64 {
	if priceMicros <= 0 || adjustmentPPM <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(priceMicros), uint64(adjustmentPPM))
	if hi >= PPM {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, PPM)
	if q > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(q)
}

// GrossFloor is the lowest price a DSP with this bid adjustment must bid
// for its adjusted price to reach floorMicros: ceil(floorMicros × 1e6 /
// adjustmentPPM), so AdjustPrice(GrossFloor(f, a), a) >= f and one micro
// less falls below it. It returns 0 for non-positive inputs.
func GrossFloor(floorMicros, adjustmentPPM int64) int64 {
	if floorMicros <= 0 || adjustmentPPM <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(floorMicros), PPM)
	if hi >= uint64(adjustmentPPM) {
		return 1<<63 - 1
	}
	q, rem := bits.Div64(hi, lo, uint64(adjustmentPPM))
	if rem > 0 {
		q++
	}
	if q > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(q)
}
