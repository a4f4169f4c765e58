package outbox

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/outbound"
)

// clients holds the notice clients: one per distinct allow list, so that a
// connection dialled under one DSP's allow_networks never carries another
// DSP's notice. DSPs without exceptions, and notices of DSPs no longer
// configured, share the default client (the strict policy).
type clients struct {
	opts outbound.Options // every setting but Allow

	mu    sync.RWMutex
	def   *outbound.Client
	byDSP map[string]*outbound.Client
	byKey map[string]*outbound.Client // allow list (canonical) → client
}

func newClients(cfg config.Outbox) (*clients, error) {
	opts := outbound.Options{
		MaxConnsPerHost:       cfg.PerDSP * 2,
		MaxIdleConnsPerHost:   cfg.PerDSP,
		ResponseHeaderTimeout: cfg.Timeout, // the per-call context bounds the whole call
	}
	if cfg.Proxy != "" {
		u, err := config.ParseProxy(cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("outbox.proxy: %w", err)
		}
		opts.Proxy = u
	}
	return &clients{opts: opts, def: outbound.New(opts), byDSP: map[string]*outbound.Client{}, byKey: map[string]*outbound.Client{}}, nil
}

// get is the client for a DSP's notices.
func (c *clients) get(dsp string) *outbound.Client {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if cl, ok := c.byDSP[dsp]; ok {
		return cl
	}
	return c.def
}

// set applies the DSPs' allow lists. A client whose allow list is still in
// use is kept (with its pooled connections); the others are closed once
// idle. On error nothing changes.
func (c *clients) set(dsps []config.DSP) error {
	type entry struct {
		key   string
		allow []string
	}
	want := map[string]entry{}
	var bad []string
	for _, d := range dsps {
		nets, err := outbound.ParseNetworks(d.AllowNetworks)
		if err != nil {
			bad = append(bad, fmt.Sprintf("dsp %s: %v", d.Name, err))
			continue
		}
		keys := make([]string, 0, len(nets))
		for _, n := range nets {
			keys = append(keys, n.String())
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		if len(keys) > 0 {
			want[d.Name] = entry{key: strings.Join(keys, ","), allow: keys}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("outbox: %s", strings.Join(bad, "; "))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	byDSP := map[string]*outbound.Client{}
	byKey := map[string]*outbound.Client{}
	for dsp, e := range want {
		cl, ok := byKey[e.key]
		if !ok {
			if cl, ok = c.byKey[e.key]; !ok {
				opts := c.opts
				opts.Allow, _ = outbound.ParseNetworks(e.allow)
				cl = outbound.New(opts)
			}
			byKey[e.key] = cl
		}
		byDSP[dsp] = cl
	}
	for key, cl := range c.byKey {
		if _, kept := byKey[key]; !kept {
			// Deliveries still using it finish; its idle connections go.
			cl.CloseIdleConnections()
		}
	}
	c.byDSP, c.byKey = byDSP, byKey
	return nil
}
