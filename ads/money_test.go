package ads

import (
	"math/big"
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
