package ads_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
)

func TestFormatMoney(t *testing.T) {
	tests := []struct{ got, want string }{
		{ads.FormatADS(5_000_000_000), "0.05"},
		{ads.FormatADS(100_000_000_000), "1.00"},
		{ads.FormatADS(123_456_789_012_345), "1234.56789012345"},
		{ads.FormatADS(1), "0.00000000001"},
		{ads.FormatADS(0), "0.00"},
		{ads.FormatSpendUSD(2_500_000), "0.0025"},
		{ads.FormatSpendUSD(1_234_567_891), "1.234567891"},
		{ads.FormatSpendUSD(3_000_000_000), "3.00"},
		{ads.FormatUSDMicros(2_500_000), "2.50"},
		{ads.FormatDecimal(big.NewInt(-1500), 3, 0), "-1.5"},
		{ads.FormatUSDNanos(1), "0.000000001"},
		{ads.FormatUSDNanos(1_500_000_000), "1.50"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}

// FuzzFormatDecimal: the decimal string parses back to the same integer.
func FuzzFormatDecimal(f *testing.F) {
	f.Add(int64(5_000_000_000), 11)
	f.Add(int64(1), 9)
	f.Add(int64(0), 0)
	f.Fuzz(func(t *testing.T, n int64, scale int) {
		if n < 0 || scale < 0 || scale > 18 {
			return
		}
		s := ads.FormatDecimal(big.NewInt(n), scale, 2)
		back, err := config.ParseDecimal(s, scale)
		if err != nil || back != n {
			t.Fatalf("FormatDecimal(%d, %d) = %q parses back as %d, %v", n, scale, s, back, err)
		}
		if strings.Contains(s, "e") || strings.HasPrefix(s, ".") {
			t.Fatalf("%q", s)
		}
	})
}

func TestFormatUSDNanos(t *testing.T) {
	for in, want := range map[int64]string{0: "0.00", 1: "0.000000001", 1_500_000_000: "1.50", 5_000_000: "0.005", -2_000_000_000: "-2.00"} {
		if got := ads.FormatUSDNanos(in); got != want {
			t.Errorf("FormatUSDNanos(%d) = %q, want %q", in, got, want)
		}
	}
}
