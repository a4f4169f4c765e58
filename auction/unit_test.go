package auction

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPriceMicros(t *testing.T) {
	cases := []struct {
		price string
		rate  int64
		want  int64
		err   bool
	}{
		{"2.5", 1e9, 2_500_000, false},
		{"2.50", 1e9, 2_500_000, false},
		{"0.000001", 1e9, 1, false},
		{"0.0000019", 1e9, 1, false}, // rounds down
		{"0.0000001", 1e9, 0, false}, // dust: the caller rejects 0
		{"3000", 750_000, 2_250_000, false},
		{"2.5e1", 1e9, 25_000_000, false},
		{"0.0008411677387431965", 1e9, 841, false},
		{"100000", 1e9, 100_000_000_000, false},
		{"100000.000001", 1e9, 0, true},
		{"1e300", 1e9, 0, true},
		{"1e999999", 1e9, 0, true},
		{"1e-999999", 1e9, 0, true},
		{"1.00000000000000000000000000000000000000000000000000000000000000000", 1e9, 0, true}, // longer than any real price
		{"1500.0000000000000000000000000000001", 750_000, 1_125_000, false},
		{"0", 1e9, 0, true},
		{"-1", 1e9, 0, true},
		{"", 1e9, 0, true},
	}
	for _, c := range cases {
		got, err := priceMicros(json.Number(c.price), c.rate)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("priceMicros(%q, %d) = %d, %v; want %d, error %v", c.price, c.rate, got, err, c.want, c.err)
		}
	}
}

func TestFloorInCurrency(t *testing.T) {
	for _, c := range []struct{ floor, rate, want int64 }{
		{500_000, 1e9, 500_000},
		{1_000_000, 750_000, 1_333_333_334}, // 1 USD in KRW micro-units, rounded up
		{0, 1e9, 0},
		{1, 3e9, 1},
	} {
		if got := floorInCurrency(c.floor, c.rate); got != c.want {
			t.Errorf("floorInCurrency(%d, %d) = %d, want %d", c.floor, c.rate, got, c.want)
		}
	}
}

func TestTieBreakIsDeterministic(t *testing.T) {
	first, second := &dspClient{order: 0}, &dspClient{order: 1}
	cases := []struct {
		a, b candidate
		want bool
	}{
		{candidate{dsp: second, priceMicros: 2}, candidate{dsp: first, priceMicros: 1}, true},
		{candidate{dsp: first, priceMicros: 1}, candidate{dsp: second, priceMicros: 1}, true},
		{candidate{dsp: second, priceMicros: 1}, candidate{dsp: first, priceMicros: 1}, false},
		{candidate{dsp: first, priceMicros: 1, bidID: "a"}, candidate{dsp: first, priceMicros: 1, bidID: "b"}, true},
		{candidate{dsp: first, priceMicros: 1, bidID: "b"}, candidate{dsp: first, priceMicros: 1, bidID: "a"}, false},
	}
	for i, c := range cases {
		if got := better(&c.a, &c.b); got != c.want {
			t.Errorf("case %d: better = %v", i, got)
		}
	}
}

func TestReadAtMost(t *testing.T) {
	for _, size := range []int{0, 1, 4095, 4096, 4097, 100, 1000} {
		in := strings.Repeat("x", size)
		got, err := readAtMost(nil, strings.NewReader(in), 1000)
		if err != nil {
			t.Fatal(err)
		}
		want := min(size, 1001)
		if len(got) != want || cap(got) > 1001 {
			t.Errorf("size %d: len %d cap %d, want len %d and cap <= 1001", size, len(got), cap(got), want)
		}
	}
}
