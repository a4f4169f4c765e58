package auction

import (
	"encoding/json"
	"testing"
)

func TestDecimalMicrosTakesPlainPrices(t *testing.T) {
	for _, c := range []struct {
		price string
		rate  int64
		want  int64
		fast  bool
	}{
		{"1.25", 1_000_000_000, 1_250_000, true},
		{"0.5", 1_080_000_000, 540_000, true},
		{"3", 1_000_000_000, 3_000_000, true},
		{"0.000001", 1_000_000_000, 1, true},
		{"0.0000009", 1_000_000_000, 0, true}, // rounds down
		{"2.333333333333333", 750_000_000, 1_749_999, true},
		{"1e2", 1_000_000_000, 100_000_000, false},
		{"-1", 1_000_000_000, 0, false},
		{"01", 1_000_000_000, 0, false},
		{"1.", 1_000_000_000, 0, false},
		{"1.0000000000000001", 1_000_000_000, 1_000_000, false}, // 16 fraction digits
	} {
		got, ok, err := decimalMicros(c.price, c.rate)
		if ok != c.fast {
			t.Errorf("%s: fast path %v, want %v", c.price, ok, c.fast)
		}
		want, wantErr := priceMicrosExact(json.Number(c.price), c.rate)
		if ok && (got != want || err != wantErr) {
			t.Errorf("%s × %d: fast %d, %v; exact %d, %v", c.price, c.rate, got, err, want, wantErr)
		}
		if p, err := priceMicros(json.Number(c.price), c.rate); p != want || err != wantErr {
			t.Errorf("priceMicros(%s) = %d, %v; exact %d, %v", c.price, p, err, want, wantErr)
		} else if err == nil && p != c.want {
			t.Errorf("priceMicros(%s) = %d, want %d", c.price, p, c.want)
		}
	}
}

// FuzzDecimalMicros: the fast path agrees with the exact big.Rat
// conversion on every price and rate it takes.
func FuzzDecimalMicros(f *testing.F) {
	for _, s := range []string{"1.25", "0.5", "100000", "99999.999999", "1000000000000000", "0", "0.0", "12.3456789012345", "1e3", "007"} {
		f.Add(s, int64(1_000_000_000))
	}
	f.Add("999999999999999999", int64(9_000_000_000_000_000_000))
	f.Fuzz(func(t *testing.T, s string, rate int64) {
		got, err := priceMicros(json.Number(s), rate)
		want, wantErr := priceMicrosExact(json.Number(s), rate)
		if got != want || err != wantErr {
			t.Fatalf("priceMicros(%q, %d) = %d, %v; exact %d, %v", s, rate, got, err, want, wantErr)
		}
	})
}
