package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adshares/dsp-bridge/auction"
)

// creativeCollector reads the creative resolvers' counters and caches at
// scrape time.
type creativeCollector struct {
	stats                                func() auction.CreativeStats
	lookups, fetches, resolved           *prometheus.Desc
	entries, assets, bytes, backgrounded *prometheus.Desc
}

// WatchCreatives adds the creative cache and fetch metrics of stats
// (auction.Auctioneer.CreativeStats).
func (m *Metrics) WatchCreatives(stats func() auction.CreativeStats) {
	m.Registry.MustRegister(&creativeCollector{
		stats: stats,
		lookups: desc("creative_cache_lookups_total",
			"Creative resolutions (image or VAST media file) by result: hit (answered from the cache), miss (fetched, or waited for a fetch already running).", "result"),
		fetches: desc("creative_fetches_total", "Creative fetches started: asset (image, media file), vast_wrapper (a VAST document behind a wrapper).", "kind"),
		resolved: desc("creative_resolved_total",
			"Creatives resolved from markup for a winning candidate, by path (markup_image, vast); refusals are bridge_dsp_rejected_bids_total.", "path"),
		entries:      desc("creative_cache_entries", "URLs in the creative cache."),
		assets:       desc("creative_cache_assets", "Distinct creatives (by content) in the cache."),
		bytes:        desc("creative_cache_bytes", "Bytes of the distinct cached creatives (creatives.cache_bytes bounds it)."),
		backgrounded: desc("creative_background_fetches", "First fetches still running after their auction gave up (creatives.background_fetches bounds them)."),
	})
}

func (c *creativeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lookups, c.fetches, c.resolved, c.entries, c.assets, c.bytes, c.backgrounded} {
		ch <- d
	}
}

func (c *creativeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	k := s.Cache
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.lookups, k.CacheHits, "hit")
	counter(c.lookups, k.Fetches+k.Joined, "miss")
	counter(c.fetches, k.Fetches, "asset")
	counter(c.fetches, k.Wrappers, "vast_wrapper")
	paths := []string{"markup_image", "vast"}
	for p := range s.Resolved {
		if p != "markup_image" && p != "vast" {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		counter(c.resolved, s.Resolved[p], p)
	}
	gauge(c.entries, int64(k.CacheEntries))
	gauge(c.assets, int64(k.CacheAssets))
	gauge(c.bytes, k.CacheBytes)
	gauge(c.backgrounded, int64(k.Background))
}
