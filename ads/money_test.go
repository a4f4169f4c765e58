package ads

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestViewValue(t *testing.T) {
	tests := []struct {
		priceMicros, rateNanos, want int64
	}{
		// $2.50 CPM at $0.05/ADS: 2.5/1000/0.05 = 0.05 ADS = 5e9 clicks.
		{2_500_000, 50_000_000, 5_000_000_000},
		// $1 CPM at $1/ADS: 0.001 ADS.
		{1_000_000, 1_000_000_000, 100_000_000},
		// Floors: $0.000001 CPM at $3/ADS = 33.33.. clicks.
		{1, 3_000_000_000, 33},
		{0, 1, 0},
		{5, 0, 0},
		{-5, 10, 0},
	}
	for _, tt := range tests {
		if got := ViewValue(tt.priceMicros, tt.rateNanos); got != tt.want {
			t.Errorf("ViewValue(%d, %d) = %d, want %d", tt.priceMicros, tt.rateNanos, got, tt.want)
		}
	}
}

// FuzzViewValue checks against exact rational arithmetic: never negative,
// never above the exact value, and less than one click below it.
func FuzzViewValue(f *testing.F) {
	f.Add(int64(2_500_000), int64(50_000_000))
	f.Add(int64(1), int64(3_000_000_000))
	f.Fuzz(func(t *testing.T, price, rate int64) {
		if price <= 0 || rate <= 0 || price > 1e12 {
			return
		}
		got := ViewValue(price, rate)
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(price), big.NewInt(ClicksPerADS)), big.NewInt(rate))
		g := new(big.Rat).SetInt64(got)
		if got < 0 || g.Cmp(exact) > 0 {
			t.Fatalf("ViewValue(%d,%d) = %d exceeds exact %s", price, rate, got, exact.FloatString(3))
		}
		if new(big.Rat).Sub(exact, g).Cmp(big.NewRat(1, 1)) >= 0 {
			t.Fatalf("ViewValue(%d,%d) = %d is a click or more below %s", price, rate, got, exact.FloatString(3))
		}
	})
}

func TestViewValueAfterFee(t *testing.T) {
	tests := []struct {
		priceMicros, rateNanos, feePPM, want int64
	}{
		// $2.50 CPM at $0.05/ADS, 15 % fee: 0.05 ADS × 0.85 = 4.25e9 clicks.
		{2_500_000, 50_000_000, 150_000, 4_250_000_000},
		{2_500_000, 50_000_000, 0, 5_000_000_000},
		// Floors after the fee: $0.000001 CPM at $3/ADS, 10 % fee = 30 clicks.
		{1, 3_000_000_000, 100_000, 30},
		// $1.234567 CPM at $0.0312 per ADS, 12.5 % fee:
		// 1234567 × 875000 × 1e5 / 31200000 = 3462327323.71… → floor.
		{1_234_567, 31_200_000, 125_000, 3_462_327_323},
		{2_500_000, 50_000_000, PPM, 0},        // a fee of 1 leaves nothing
		{2_500_000, 50_000_000, -1, 0},         // an invalid fee never pays more
		{2_500_000, 50_000_000, PPM - 1, 5000}, // 1 ppm of 5e9 clicks
	}
	for _, tt := range tests {
		if got := ViewValueAfterFee(tt.priceMicros, tt.rateNanos, tt.feePPM); got != tt.want {
			t.Errorf("ViewValueAfterFee(%d, %d, %d) = %d, want %d", tt.priceMicros, tt.rateNanos, tt.feePPM, got, tt.want)
		}
	}
}

func TestAdjustPrice(t *testing.T) {
	tests := []struct{ price, adj, want int64 }{
		{2_000_000, PPM, 2_000_000},
		{2_000_000, 850_000, 1_700_000},
		{1_234_567, 850_000, 1_049_381}, // 1049381.95 → floor
		{1, 999_999, 0},
		{100_000_000_000, 10 * PPM, 1_000_000_000_000}, // the largest price × the largest adjustment
		{1<<63 - 1, 2 * PPM, 1<<63 - 1},                // saturates
		{0, PPM, 0},
		{5, 0, 0},
	}
	for _, tt := range tests {
		if got := AdjustPrice(tt.price, tt.adj); got != tt.want {
			t.Errorf("AdjustPrice(%d, %d) = %d, want %d", tt.price, tt.adj, got, tt.want)
		}
	}
}

func TestGrossFloor(t *testing.T) {
	for _, tt := range []struct{ floor, adj, want int64 }{
		{1_700_000, 850_000, 2_000_000},
		{1_000_000, 850_000, 1_176_471}, // 1176470.58… rounded up
		{1_000_000, PPM, 1_000_000},
		{0, 850_000, 0},
	} {
		if got := GrossFloor(tt.floor, tt.adj); got != tt.want {
			t.Errorf("GrossFloor(%d, %d) = %d, want %d", tt.floor, tt.adj, got, tt.want)
		}
	}
}

// exactValue is floor(price × (1 − fee) / 1000 / ads_usd × 1e11) in exact
// rationals, from the decimal units an operator reads: USD CPM, a fee
// fraction, USD per ADS.
func exactValue(priceMicros, rateNanos, feePPM int64) *big.Int {
	price := big.NewRat(priceMicros, 1_000_000)
	keep := new(big.Rat).Sub(big.NewRat(1, 1), big.NewRat(feePPM, PPM))
	adsUSD := big.NewRat(rateNanos, 1_000_000_000)
	v := new(big.Rat).Mul(price, keep)
	v.Quo(v, big.NewRat(1000, 1))
	v.Quo(v, adsUSD)
	v.Mul(v, big.NewRat(ClicksPerADS, 1))
	return new(big.Int).Quo(v.Num(), v.Denom())
}

// TestMoneyProperties checks random prices, adjustments, fees and rates
// against the formulas computed in exact rationals.
func TestMoneyProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for range 20000 {
		bid := 1 + rng.Int64N(100_000_000_000) // up to 100 000 USD CPM
		adj := 1 + rng.Int64N(10*PPM)
		fee := rng.Int64N(PPM)
		rate := 1 + rng.Int64N(1_000_000_000_000) // up to 1000 USD per ADS
		price := AdjustPrice(bid, adj)
		wantPrice := new(big.Rat).Mul(big.NewRat(bid, 1), big.NewRat(adj, PPM))
		if w := new(big.Int).Quo(wantPrice.Num(), wantPrice.Denom()); w.Int64() != price {
			t.Fatalf("AdjustPrice(%d, %d) = %d, exact floor %s", bid, adj, price, w)
		}
		if price == 0 {
			continue
		}
		got := ViewValueAfterFee(price, rate, fee)
		if want := exactValue(price, rate, fee); !want.IsInt64() || want.Int64() != got {
			t.Fatalf("ViewValueAfterFee(%d, %d, %d) = %d, exact %s", price, rate, fee, got, want)
		}
		if g := GrossFloor(price, adj); AdjustPrice(g, adj) < price || (g > 1 && AdjustPrice(g-1, adj) >= price) {
			t.Fatalf("GrossFloor(%d, %d) = %d is not the least gross bid reaching it", price, adj, g)
		}
	}
}

func FuzzViewValueAfterFee(f *testing.F) {
	f.Add(int64(2_500_000), int64(50_000_000), int64(150_000))
	f.Add(int64(1), int64(3_000_000_000), int64(999_999))
	f.Fuzz(func(t *testing.T, price, rate, fee int64) {
		if price <= 0 || rate <= 0 || fee < 0 || fee >= PPM || price > 1e12 {
			return
		}
		if got, want := ViewValueAfterFee(price, rate, fee), exactValue(price, rate, fee); !want.IsInt64() || got != want.Int64() {
			t.Fatalf("ViewValueAfterFee(%d,%d,%d) = %d, exact %s", price, rate, fee, got, want)
		}
	})
}

func TestFormatPPM(t *testing.T) {
	for ppm, want := range map[int64]string{0: "0", 150_000: "0.15", PPM: "1", 850_001: "0.850001", 12 * PPM / 10: "1.2"} {
		if got := FormatPPM(ppm); got != want {
			t.Errorf("FormatPPM(%d) = %q, want %q", ppm, got, want)
		}
	}
}
