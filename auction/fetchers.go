package auction

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/creative"
	"github.com/adshares/dsp-bridge/outbound"
)

// fetcher is what fetches on behalf of DSPs with one allow_networks list: an
// outbound client (the URL policy with that list) and a creative resolver
// using it, with its own cache. A connection or a cached creative fetched
// under one DSP's exception never serves a DSP without it.
type fetcher struct {
	key      string // canonical allow list; "" the strict policy
	client   *outbound.Client
	resolver *creative.Resolver
}

// fetchers holds one fetcher per distinct allow list. DSPs without
// exceptions share the default one.
type fetchers struct {
	rcfg creative.Config
	opts outbound.Options // every setting but Allow

	mu      sync.RWMutex
	def     *fetcher
	byDSP   map[string]*fetcher
	byKey   map[string]*fetcher
	retired creative.Stats // counters of fetchers dropped by reloads, so totals never go down
}

func newFetchers(cfg *config.Config) *fetchers {
	cr := creativesConfig(cfg)
	maxBytes := cr.InlineMaxBytes
	if cr.Delivery != config.DeliveryInline {
		maxBytes = max(cr.MaxBytes, cr.InlineMaxBytes)
	}
	f := &fetchers{
		rcfg: creative.Config{
			MaxBytes: maxBytes, CacheEntries: cr.CacheEntries, CacheBytes: cr.CacheBytes,
			MaxWrappers: cr.VASTMaxWrappers, FetchTimeout: cr.FetchTimeout,
			BackgroundFetches: cr.BackgroundFetches, FailureTTL: cr.FailureTTL,
		},
		opts: outbound.Options{
			// The resolver reads at most MaxBytes+1 to tell "too large";
			// the client's own cap must not cut it short first.
			MaxBodyBytes:        max(maxBytes, creative.MaxMarkupBytes) + 1,
			Timeout:             cr.FetchTimeout,
			MaxConnsPerHost:     64,
			MaxIdleConnsPerHost: 16,
			UserAgent:           "adshares-dsp-bridge",
		},
		byDSP: map[string]*fetcher{}, byKey: map[string]*fetcher{},
	}
	if cfg.Outbox.Proxy != "" {
		// Validated at load: the operator's egress proxy carries every
		// URL a DSP names, notices and creatives alike.
		f.opts.Proxy, _ = config.ParseProxy(cfg.Outbox.Proxy)
	}
	f.def = f.build("")
	f.set(cfg.DSPs)
	return f
}

func (f *fetchers) build(key string) *fetcher {
	opts := f.opts
	if key != "" {
		opts.Allow, _ = outbound.ParseNetworks(strings.Split(key, ","))
	}
	c := outbound.New(opts)
	return &fetcher{key: key, client: c, resolver: creative.New(c, f.rcfg)}
}

// allowKey is the canonical form of an allow list ("" for none or an
// invalid one: validation refuses those before they get here).
func allowKey(list []string) string {
	nets, err := outbound.ParseNetworks(list)
	if err != nil || len(nets) == 0 {
		return ""
	}
	keys := make([]string, 0, len(nets))
	for _, n := range nets {
		keys = append(keys, n.String())
	}
	slices.Sort(keys)
	return strings.Join(slices.Compact(keys), ",")
}

// set applies the DSPs' allow lists (at start and on reloads). A fetcher
// whose list is still in use is kept, with its cache and connections; the
// others are closed once no auction can still be using them.
func (f *fetchers) set(dsps []config.DSP) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byDSP := map[string]*fetcher{}
	byKey := map[string]*fetcher{}
	for _, d := range dsps {
		key := allowKey(d.AllowNetworks)
		if key == "" {
			continue
		}
		fe, ok := byKey[key]
		if !ok {
			if fe, ok = f.byKey[key]; !ok {
				fe = f.build(key)
			}
			byKey[key] = fe
		}
		byDSP[d.Name] = fe
	}
	var dropped []*fetcher
	for key, fe := range f.byKey {
		if _, kept := byKey[key]; !kept {
			dropped = append(dropped, fe)
			f.retired = addStats(f.retired, fe.resolver.Stats())
		}
	}
	f.byDSP, f.byKey = byDSP, byKey
	if len(dropped) > 0 {
		// An auction never outlives the fetch timeout by much; give the
		// ones that may still use these their time.
		time.AfterFunc(f.rcfg.FetchTimeout+5*time.Second, func() {
			for _, fe := range dropped {
				fe.resolver.Close()
				fe.client.CloseIdleConnections()
			}
		})
	}
}

// get is the fetcher for a DSP's URLs.
func (f *fetchers) get(dsp string) *fetcher {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if fe, ok := f.byDSP[dsp]; ok {
		return fe
	}
	return f.def
}

// stats adds up the counters of every resolver, past ones included; the
// cache gauges are those of the resolvers in use.
func (f *fetchers) stats() creative.Stats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.retired
	for _, fe := range append([]*fetcher{f.def}, mapValues(f.byKey)...) {
		st := fe.resolver.Stats()
		s = addStats(s, st)
		s.Background += st.Background
		s.CacheEntries += st.CacheEntries
		s.CacheAssets += st.CacheAssets
		s.CacheBytes += st.CacheBytes
	}
	return s
}

func mapValues(m map[string]*fetcher) []*fetcher {
	out := make([]*fetcher, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func addStats(a, b creative.Stats) creative.Stats {
	a.Fetches += b.Fetches
	a.Wrappers += b.Wrappers
	a.CacheHits += b.CacheHits
	a.Joined += b.Joined
	return a
}

// close stops every resolver's background fetches.
func (f *fetchers) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fe := range append([]*fetcher{f.def}, mapValues(f.byKey)...) {
		fe.resolver.Close()
		fe.client.CloseIdleConnections()
	}
}

// creativesConfig is cfg.Creatives with the defaults config.Load fills in
// for the fields read here when left zero (configs built in code, as tests
// do); the resolver's own limits default in creative.Config.
func creativesConfig(cfg *config.Config) config.Creatives {
	c := cfg.Creatives
	if c.Delivery == "" {
		c.Delivery = config.DeliveryInline
	}
	if c.InlineMaxBytes <= 0 {
		c.InlineMaxBytes = creative.DefaultMaxBytes
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 16 << 20
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = creative.DefaultFetchTimeout
	}
	if c.PublicTTL <= 0 {
		c.PublicTTL = 24 * time.Hour
	}
	return c
}
