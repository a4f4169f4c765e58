package bench

import (
	"math/bits"
	"time"
)

// subBits gives 64 sub-buckets per power of two: a recorded latency is off
// by at most 1/64 (1.6 %) of its value, whatever its size.
const subBits = 6

// maxBucket covers latencies up to 2^40 µs, far beyond any timeout here.
const maxBucket = 40 << subBits

// Histogram is a log-linear latency histogram in microseconds. Recording
// is a few integer operations and no allocation, so every call of a load
// run is recorded; each worker keeps its own and they are merged at the end.
type Histogram struct {
	counts [maxBucket]uint64
	n      uint64
	sumUS  int64
	maxUS  int64
}

func bucketOf(us int64) int {
	if us < 1<<subBits {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	s := bits.Len64(uint64(us)) - subBits - 1
	b := s<<subBits + int(us>>s)
	if b >= maxBucket {
		return maxBucket - 1
	}
	return b
}

// bucketMid is the middle of a bucket's range, in microseconds.
func bucketMid(b int) int64 {
	if b < 1<<subBits {
		return int64(b)
	}
	s := b>>subBits - 1
	m := int64(b&(1<<subBits-1) + 1<<subBits)
	low, high := m<<s, (m+1)<<s-1
	return (low + high) / 2
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	h.counts[bucketOf(us)]++
	h.n++
	h.sumUS += us
	if us > h.maxUS {
		h.maxUS = us
	}
}

// Merge adds every latency of o.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sumUS += o.sumUS
	h.maxUS = max(h.maxUS, o.maxUS)
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile is the latency below which a fraction q of the recorded ones
// lie (0 when nothing was recorded), never more than the maximum seen.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(b), h.maxUS)) * time.Microsecond
		}
	}
	return time.Duration(h.maxUS) * time.Microsecond
}

// Max is the largest latency recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.maxUS) * time.Microsecond }

// Mean is the average latency recorded.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sumUS/int64(h.n)) * time.Microsecond
}
