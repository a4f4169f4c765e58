package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueWithinPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Int64N(1 << 36)
		mid := bucketMid(bucketOf(v))
		if diff := mid - v; diff < 0 && -diff > v/64 || diff > v/64 {
			t.Fatalf("value %d µs lands in a bucket around %d µs: more than 1/64 off", v, mid)
		}
	}
	for v := int64(0); v < 5000; v++ {
		if b, next := bucketOf(v), bucketOf(v+1); next != b && next != b+1 {
			t.Fatalf("bucket of %d is %d, of %d is %d: buckets must be contiguous", v, b, v+1, next)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 {
		t.Fatal("an empty histogram must answer 0")
	}
	// 1..1000 ms, each once: p50 ≈ 500 ms, p99 ≈ 990 ms, p99.9 ≈ 999 ms.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}} {
		got := h.Quantile(tc.q)
		if d := got - tc.want; d > tc.want/64 || -d > tc.want/64 {
			t.Errorf("q%.3f = %s, want %s within 1/64", tc.q, got, tc.want)
		}
	}
	if h.Max() != time.Second || h.Count() != 1000 {
		t.Fatalf("max %s count %d", h.Max(), h.Count())
	}
	var m Histogram
	m.Record(5 * time.Second)
	m.Merge(&h)
	if m.Count() != 1001 || m.Max() != 5*time.Second || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Fatalf("merged: count %d max %s p50 %s", m.Count(), m.Max(), m.Quantile(0.5))
	}
}
