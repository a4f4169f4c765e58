package config

import (
	"fmt"
	"net/url"
	"time"
)

// validateCreatives checks creatives.* and the public listener: public
// delivery needs both public_url (an https origin, since the Adshares page
// is https and blocks http fetches) and public_listen (what serves it).
func (c *Config) validateCreatives() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	cr := c.Creatives
	switch cr.Delivery {
	case DeliveryInline, DeliveryPublic, DeliveryDirect:
	default:
		add("creatives.delivery: %q is not inline, public or direct", cr.Delivery)
	}
	if cr.InlineMaxBytes < 1024 || cr.InlineMaxBytes > 64<<20 {
		add("creatives.inline_max_bytes: %d is outside 1024..67108864 (the data: URI travels in the /bid answer)", cr.InlineMaxBytes)
	}
	if cr.MaxBytes < 1024 || cr.MaxBytes > 256<<20 {
		add("creatives.max_bytes: %d is outside 1024..268435456", cr.MaxBytes)
	}
	if cr.CacheEntries < 1 || cr.CacheBytes < 1 {
		add("creatives.cache_entries and creatives.cache_bytes: must be at least 1")
	}
	if cr.VASTMaxWrappers < 1 || cr.VASTMaxWrappers > 10 {
		add("creatives.vast_max_wrappers: %d is outside 1..10", cr.VASTMaxWrappers)
	}
	if cr.FetchTimeout <= 0 || cr.FailureTTL <= 0 {
		add("creatives.fetch_timeout and creatives.failure_ttl: must be positive")
	}
	if cr.BackgroundFetches < 1 {
		add("creatives.background_fetches: must be at least 1")
	}
	if cr.PublicTTL < time.Minute {
		add("creatives.public_ttl: %s is shorter than 1m", cr.PublicTTL)
	}
	if c.PublicURL != "" {
		if err := checkBaseURL(c.PublicURL); err != "" {
			add("public_url: %s", err)
		} else if u, _ := url.Parse(c.PublicURL); u.Scheme != "https" {
			add("public_url: %q must be https: the Adshares page is served over https and the browser refuses to fetch an http serve_url from it", c.PublicURL)
		}
	}
	if c.PublicListen != "" {
		if err := checkListen(c.PublicListen, true); err != "" {
			add("public_listen: %s", err)
		}
		if c.PublicURL == "" {
			add("public_listen: set, but public_url is empty (the https origin the operator routes to public_listen, from which serve_urls are built)")
		}
		if c.PublicListen == c.Listen || c.PublicListen == c.Metrics.Listen {
			add("public_listen: %s is also listen or metrics.listen; the public listener serves creatives only, on its own address", c.PublicListen)
		}
	}
	if cr.Delivery == DeliveryPublic && (c.PublicURL == "" || c.PublicListen == "") {
		add("creatives.delivery: public needs both public_url and public_listen")
	}
	return p
}
