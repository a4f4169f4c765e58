package rates

import (
	"errors"
	"math/big"
	"testing"
)

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		body, want string
		ok         bool
	}{
		{`{"rate":0.0512}`, "0.0512", true},
		{`{"rate": 1.0e-5}`, "1.0e-5", true}, // PHP's json_encode of a small float
		{`{"rate":"0.0512"}`, "0.0512", true},
		{`{"rate":0.03123456789012345678,"date":"x"}`, "0.03123456789012345678", true}, // digits a float64 would lose
		{`{"rate":null}`, "", false},
		{`{"other":1}`, "", false},
		{`[0.05]`, "", false},
		{``, "", false},
		{`{"rate":`, "", false},
		{`{"rate":""}`, "", false}, // found by FuzzParseAnswer (as {"rAte":""}: JSON keys match in any case)
		{`{"rAte":"0.05"}`, "0.05", true},
	}
	for _, tt := range tests {
		got, err := ParseAnswer([]byte(tt.body))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseAnswer(%s) = %q, %v; want %q ok=%v", tt.body, got, err, tt.want, tt.ok)
		}
	}
}

func TestToNanos(t *testing.T) {
	tests := []struct {
		text string
		want int64
		ok   bool
	}{
		{"0.05", 50_000_000, true},
		{"0.0512", 51_200_000, true},
		{"1", 1_000_000_000, true},
		{"1.0e-5", 10_000, true},
		{"5E-2", 50_000_000, true},
		{"0.0312345674", 31_234_567, true}, // below half a nano: down
		{"0.0312345675", 31_234_568, true}, // half a nano: up
		{"0.03123456749999999999999", 31_234_567, true},
		{"0.0000000005", 1, true},
		{"0.0000000004", 0, false}, // rounds to nothing
		{"0", 0, false},
		{"-0.05", 0, false},
		{"1000000", 1_000_000_000_000_000, true},
		{"1000000.000000001", 0, false},
		{"1e9999", 0, false},
		{"NaN", 0, false},
		{"0x10", 0, false},
		{".5", 0, false},
		{"01", 0, false},
		{" 0.05", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ToNanos(tt.text)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ToNanos(%q) = %d, %v; want %d ok=%v", tt.text, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadRate) {
			t.Errorf("ToNanos(%q) error %v is not ErrBadRate", tt.text, err)
		}
	}
}

// FuzzToNanos: whatever the feed sends, the result is either an error or
// the exact rate rounded to the nearest nano-USD.
func FuzzToNanos(f *testing.F) {
	for _, s := range []string{"0.05", "1.0e-5", "0.0312345675", "1e9999", "-1", "7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		n, err := ToNanos(text)
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("ToNanos(%q) = %d for a string big.Rat refuses", text, n)
		}
		diff := new(big.Rat).Sub(new(big.Rat).Mul(r, big.NewRat(1_000_000_000, 1)), big.NewRat(n, 1))
		if diff.Cmp(big.NewRat(-1, 2)) < 0 || diff.Cmp(big.NewRat(1, 2)) >= 0 || n <= 0 || n > MaxRateNanos {
			t.Fatalf("ToNanos(%q) = %d is not the nearest nano-USD", text, n)
		}
	})
}

func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(`{"rate":0.05}`))
	f.Add([]byte(`{"rate":"1e3"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		text, err := ParseAnswer(body)
		if err == nil && text == "" {
			t.Fatalf("ParseAnswer(%q) gave an empty rate without error", body)
		}
	})
}
