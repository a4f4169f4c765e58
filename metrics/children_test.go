package metrics

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestChildrenResolveEachLabelSetOnce(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a", "b"})
	resolved := 0
	c := newChildren(func(k [2]string) prometheus.Counter { resolved++; return vec.WithLabelValues(k[0], k[1]) })
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.get([2]string{"dsp", "bid"}).Inc()
				c.get([2]string{"dsp", "nobid"}).Inc()
			}
		}()
	}
	wg.Wait()
	if resolved != 2 {
		t.Errorf("%d label sets resolved, want 2 (once each)", resolved)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(vec)
	families, err := reg.Gather()
	if err != nil || len(families) != 1 || len(families[0].GetMetric()) != 2 {
		t.Fatalf("gathered %v, %v", families, err)
	}
	for _, m := range families[0].GetMetric() {
		if v := m.GetCounter().GetValue(); v != 800 {
			t.Errorf("%v = %v, want 800", m.GetLabel(), v)
		}
	}
}
