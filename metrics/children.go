package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adshares/dsp-bridge/auction"
)

// children caches the series of a metric vector by their labels, so that
// counting on the request path is one lock-free map read rather than
// WithLabelValues' hashing of every label, its read lock and its variadic
// slice. Label sets here are bounded (configured DSP names, outcomes,
// reasons, route patterns, status codes), so the map stays small; it is
// copied on a miss, which happens once per label set.
type children[K comparable, M any] struct {
	m    atomic.Pointer[map[K]M]
	mu   sync.Mutex // serialises misses
	make func(K) M  // resolves a missing series (WithLabelValues)
}

func newChildren[K comparable, M any](make func(K) M) *children[K, M] {
	return &children[K, M]{make: make}
}

// get returns the series of k, resolving it on first use.
func (c *children[K, M]) get(k K) M {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	next := make(map[K]M, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	v := c.make(k)
	next[k] = v
	c.m.Store(&next)
	return v
}

func lenOf[K comparable, M any](m *map[K]M) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// counters1, counters2, counters3 cache a counter vector of one, two or
// three labels.
func counters1(v *prometheus.CounterVec) *children[string, prometheus.Counter] {
	return newChildren(func(k string) prometheus.Counter { return v.WithLabelValues(k) })
}

func counters2(v *prometheus.CounterVec) *children[[2]string, prometheus.Counter] {
	return newChildren(func(k [2]string) prometheus.Counter { return v.WithLabelValues(k[0], k[1]) })
}

func counters3(v *prometheus.CounterVec) *children[[3]string, prometheus.Counter] {
	return newChildren(func(k [3]string) prometheus.Counter { return v.WithLabelValues(k[0], k[1], k[2]) })
}

func observers1(v *prometheus.HistogramVec) *children[string, prometheus.Observer] {
	return newChildren(func(k string) prometheus.Observer { return v.WithLabelValues(k) })
}

// dspReason is the key of the per-DSP reason series; the reason's label
// (Reason.String, a map read) is made once per series, not per count.
type dspReason struct {
	dsp    string
	reason auction.Reason
}

// routeCode is the key of bridge_http_requests_total.
type routeCode struct {
	route string
	code  int
}

// cached holds the series the request path counts, by label set.
type cached struct {
	auctions, invalidTraffic, wins, dspRequests, dspBids, publicRequests *children[string, prometheus.Counter]
	dspLatency, bidDuration                                              *children[string, prometheus.Observer]
	dspOutcomes, events, creativeDelivery, lossNotices                   *children[[2]string, prometheus.Counter]
	deliveries                                                           *children[[3]string, prometheus.Counter]
	dspNonBids, dspRejected                                              *children[dspReason, prometheus.Counter]
	httpRequests                                                         *children[routeCode, prometheus.Counter]
}

func newCached(m *Metrics) cached {
	byReason := func(v *prometheus.CounterVec) *children[dspReason, prometheus.Counter] {
		return newChildren(func(k dspReason) prometheus.Counter { return v.WithLabelValues(k.dsp, k.reason.String()) })
	}
	return cached{
		auctions: counters1(m.auctions), invalidTraffic: counters1(m.invalidTraffic), wins: counters1(m.wins),
		dspRequests: counters1(m.dspRequests), dspBids: counters1(m.dspBids), publicRequests: counters1(m.publicRequests),
		dspLatency: observers1(m.dspLatency), bidDuration: observers1(m.bidDuration),
		dspOutcomes: counters2(m.dspOutcomes), events: counters2(m.events),
		creativeDelivery: counters2(m.creativeDelivery), lossNotices: counters2(m.lossNotices),
		deliveries: counters3(m.deliveries),
		dspNonBids: byReason(m.dspNonBids), dspRejected: byReason(m.dspRejected),
		httpRequests: newChildren(func(k routeCode) prometheus.Counter {
			return m.httpRequests.WithLabelValues(k.route, strconv.Itoa(k.code))
		}),
	}
}
