package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
)

// A chaos run (`bridge bench --chaos`): the bench's environment with DSPs
// that fail at random on every surface the bridge calls, a PostgreSQL
// restart (twice: once cleanly, once as a crash) and a kill -9 of the bridge
// in the middle of mixed traffic, then a reconciliation that must find
// nothing lost, every /bid answered in time, and no request on a refused
// address (a canary listener counts them).

// chaosAllow is every DSP's allow_networks in a chaos run: the simulated
// DSPs' own address only. The canaries listen on other loopback addresses,
// which the outbound policy therefore refuses.
const chaosAllow = "127.0.0.1/32"

// chaosConfig is appended to the generated config: shorter timeouts and
// backoffs, so that notices a fault delayed are retried and delivered within
// the run's drain, and short payment periods, so that reports settle within
// it too. Everything else is the defaults an operator runs.
const chaosConfig = `server: {write_timeout: 3s}
outbox: {timeout: 2s, backoff_base: 200ms, backoff_max: 3s}
creatives: {fetch_timeout: 2s}
payments: {period: 5s, settle_after: 1s}
`

// The chaos run's DSPs: one of the nurl path (its nurl is the browser's,
// so the bridge calls only its bid endpoint and burl), two of image markup
// whose every creative is a fresh fetch (the bridge calls all three
// surfaces), priced so that the markup DSPs rank first.
const chaosDSPs = 3

// chaosKinds are the faults each DSP gets on each surface.
func chaosKinds(i int) map[dspsim.Surface][]dspsim.Fault {
	k := map[dspsim.Surface][]dspsim.Fault{}
	for _, s := range dspsim.Surfaces {
		if s == dspsim.SurfaceNURL && i == 0 {
			continue // never called by the bridge for a nurl-path DSP
		}
		k[s] = dspsim.SurfaceFaults(s)
	}
	return k
}

// Disruption is one thing the run did to the bridge or its database.
type Disruption struct {
	What   string  `json:"what"`
	AtS    float64 `json:"at_s"`    // seconds into the traffic
	DownMS float64 `json:"down_ms"` // until it served again (the bridge: ready; PostgreSQL: accepting logins)
	Error  string  `json:"error,omitempty"`
}

// chaosPlan is when each disruption happens, as a share of the duration.
var chaosPlan = []struct {
	at   float64
	what string
}{
	{0.2, "postgres-restart"},
	{0.45, "bridge-kill-9"},
	{0.7, "postgres-crash"},
}

// disrupt runs the whole plan from start, each disruption to its end.
func (m *chaosRun) disrupt(ctx context.Context, start time.Time) {
	for _, p := range chaosPlan {
		at := start.Add(time.Duration(p.at * float64(m.o.Duration)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		d := Disruption{What: p.what, AtS: time.Since(start).Seconds()}
		t0 := time.Now()
		var err error
		switch p.what {
		case "postgres-restart":
			err = m.e.restartPostgres(ctx, false, 3*time.Second)
		case "postgres-crash":
			err = m.e.restartPostgres(ctx, true, 3*time.Second)
		case "bridge-kill-9":
			m.kills++
			err = m.e.killBridge(ctx, m.o, m.g.outage, m.kills)
			m.bridgePID.Store(int64(m.e.bridge.pid()))
		}
		d.DownMS = float64(time.Since(t0).Microseconds()) / 1000
		if err != nil {
			d.Error = err.Error()
		}
		m.o.progress("%s at %.1fs: down %.0f ms %s", d.What, d.AtS, d.DownMS, d.Error)
		m.mu.Lock()
		m.disruptions = append(m.disruptions, d)
		m.mu.Unlock()
	}
}

// faultTotals adds up every DSP's injected faults, by surface and kind.
func (e *env) faultTotals() map[dspsim.Surface]map[dspsim.Fault]int {
	out := map[dspsim.Surface]map[dspsim.Fault]int{}
	for _, d := range e.dsps {
		for s, byKind := range d.FaultCounts() {
			if out[s] == nil {
				out[s] = map[dspsim.Fault]int{}
			}
			for f, n := range byKind {
				out[s][f] += n
			}
		}
	}
	return out
}

// missingFaults lists the configured (surface, fault) pairs never injected.
func missingFaults(got map[dspsim.Surface]map[dspsim.Fault]int) []string {
	var out []string
	for _, s := range dspsim.Surfaces {
		for _, f := range dspsim.SurfaceFaults(s) {
			if got[s][f] == 0 {
				out = append(out, string(s)+"/"+string(f))
			}
		}
	}
	sort.Strings(out)
	return out
}

func faultCells(got map[dspsim.Surface]map[dspsim.Fault]int, s dspsim.Surface) string {
	var parts []string
	for _, f := range dspsim.SurfaceFaults(s) {
		parts = append(parts, fmt.Sprintf("%s %d", f, got[s][f]))
	}
	return strings.Join(parts, ", ")
}
