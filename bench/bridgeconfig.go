package bench

import (
	"fmt"
	"strings"
	"time"
)

// The bridge configuration a run generates: the bridge as an operator would
// run it (defaults everywhere, info logs, metrics on, a spool), pointed at
// the throwaway PostgreSQL and the simulated DSPs.

// Accounts of the run (valid checksums).
const (
	bridgeAddr   = "0001-00000003-AB0C"
	adserverAddr = "0001-00000005-CBCA"
)

// benchCreatives are the shapes the inventory offers; --slots picks
// different ones for the slots of one /bid, so it is at most this many.
var benchCreatives = []struct{ id, size string }{
	{"b0c0000000000000000000000000a001", "300x250"},
	{"b0c0000000000000000000000000a002", "728x90"},
	{"b0c0000000000000000000000000a003", "160x600"},
	{"b0c0000000000000000000000000a004", "320x50"},
	{"b0c0000000000000000000000000a005", "300x600"},
	{"b0c0000000000000000000000000a006", "970x250"},
	{"b0c0000000000000000000000000a007", "336x280"},
	{"b0c0000000000000000000000000a008", "468x60"},
}

// MaxSlots is the largest --slots: one slot per creative of the inventory.
var MaxSlots = len(benchCreatives)

// dspEntry is one DSP of the generated config.
type dspEntry struct {
	name, endpoint string
}

// configParams is what varies between runs.
type configParams struct {
	listen, metrics, dbURL, spoolDir string
	tmax, dspTimeout                 time.Duration
	pprof                            bool
	dsps                             []dspEntry
	allow                            string // every DSP's allow_networks entry (default 127.0.0.0/8)
	extra                            string // YAML appended as it is (sections the base leaves out)
}

func bridgeConfigYAML(p configParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by bridge bench: a throwaway configuration for one load run.
listen: %q
base_url: "http://%s"
log: {level: info}
database: {url: %q}
adshares: {address: %q}
adserver: {address: %q}
auction: {tmax: %s}
money: {ads_usd: "0.05"}
events: {spool_dir: %q}
metrics: {listen: %q, pprof: %t}
inventory:
  campaigns:
    - id: "b0c00000000000000000000000000c01"
      name: "bench"
      creatives:
`, p.listen, p.listen, p.dbURL, bridgeAddr, adserverAddr, p.tmax, p.spoolDir, p.metrics, p.pprof)
	for _, c := range benchCreatives {
		fmt.Fprintf(&b, "        - {id: %q, type: image, mime: image/png, size: %q}\n", c.id, c.size)
	}
	b.WriteString("dsps:\n")
	// The simulated DSPs listen on loopback, where the bridge also fetches
	// their burls: the outbound URL policy refuses loopback unless
	// allow_networks opens it.
	allow := p.allow
	if allow == "" {
		allow = "127.0.0.0/8"
	}
	for _, d := range p.dsps {
		fmt.Fprintf(&b, "  - {name: %s, endpoint: %q, timeout: %s, allow_networks: [%q]}\n", d.name, d.endpoint, p.dspTimeout, allow)
	}
	b.WriteString(p.extra)
	return b.String()
}
