package bench

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator: Concurrency closed-loop callers playing the AdServer
// (each sends its next call as soon as the last one is answered). It shares
// the cores with what it measures, so the hot path is kept cheap: bodies
// and query templates are pre-built, connections are reused, answers are
// read into a per-caller buffer, and latencies go into per-caller
// histograms merged at the end.

// System is one of the things a run puts under the same load.
type System string

// The systems of a run.
const (
	Bridge System = "bridge" // the bridge, as its own process, every win durable
	Floor  System = "floor"  // the zero-logic proxy (Proxy), as its own process
	Direct System = "direct" // the same BidRequests sent straight to the DSPs
)

// target is where a phase sends its calls.
type target struct {
	sys    System
	client *http.Client
	bid    *url.URL   // bridge /bid, or the proxy
	view   []*url.URL // per creative (bridge) or one (proxy)
	click  []*url.URL
	dsps   []*url.URL // direct: every DSP's endpoint
}

// work is what a phase does.
type work int

const (
	workBids  work = iota // /bid calls (with views and clicks in mixed mode)
	workPrep              // /bid calls that fill the pool of wins for views mode
	workViews             // views of distinct wins from the pool
)

// win is one slot the bridge filled.
type win struct {
	extID    string
	creative int
}

// EventRec is a view or click the bridge accepted: what the books check
// looks for in the database.
type EventRec struct{ ExtID, CaseID string }

// winPool hands out distinct wins to view. It grows only between phases.
type winPool struct {
	items []win
	next  atomic.Int64
}

func (p *winPool) take() (win, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		return win{}, false
	}
	return p.items[i], true
}

// left is how many wins are still to view.
func (p *winPool) left() int {
	return max(0, len(p.items)-int(p.next.Load()))
}

// tally is what the callers of one phase (or several, merged) counted.
type tally struct {
	Bids, Slots, Wins, NoBids, BidErrors, Late int64
	Views, ViewErrors, Clicks, ClickErrors     int64
	// Calls that failed while the bridge was down on purpose (a chaos
	// run's kill): never answered, and not errors of the bridge either.
	// BidRefused of them found no listener; LateOutage were answered late.
	BidOutage, BidRefused, LateOutage, ViewOutage, ClickOutage int64
	// LateStalled were late by no more than this process (the load
	// generator) was itself not run during the call: not the bridge's.
	LateStalled      int64
	Bid, View, Click Histogram
	Elapsed          time.Duration
	Exhausted        bool   // views mode: the pool of wins ran out
	FirstError       string // the first error seen, for the report
}

func (t *tally) merge(o *tally) {
	t.Bids += o.Bids
	t.Slots += o.Slots
	t.Wins += o.Wins
	t.NoBids += o.NoBids
	t.BidErrors += o.BidErrors
	t.Late += o.Late
	t.Views += o.Views
	t.ViewErrors += o.ViewErrors
	t.Clicks += o.Clicks
	t.ClickErrors += o.ClickErrors
	t.BidOutage += o.BidOutage
	t.BidRefused += o.BidRefused
	t.LateOutage += o.LateOutage
	t.ViewOutage += o.ViewOutage
	t.ClickOutage += o.ClickOutage
	t.LateStalled += o.LateStalled
	t.Bid.Merge(&o.Bid)
	t.View.Merge(&o.View)
	t.Click.Merge(&o.Click)
	t.Elapsed += o.Elapsed
	t.Exhausted = t.Exhausted || o.Exhausted
	if t.FirstError == "" {
		t.FirstError = o.FirstError
	}
}

// generator holds the pre-built calls and what the bridge answered.
type generator struct {
	concurrency   int
	rate          float64 // open loop: calls started per second (0: closed loop)
	mixed         bool
	viewFraction  float64
	clickFraction float64
	lateAfter     time.Duration
	seed          uint64
	phases        uint64   // seeds each phase's callers differently
	outage        *outages // chaos: when the bridge was down on purpose (nil: never)
	stalls        *outages // chaos: when this process was not run (nil: not watched)

	bids   []bidBody
	prep   []bidBody // views mode: many slots per call, to make wins fast
	rtb    []rtbBody
	views  []eventTemplate
	clicks []eventTemplate
	pool   winPool

	// Accepted by the bridge, for the books check.
	answered []string
	viewed   []EventRec
	clicked  []EventRec
}

// run puts t under load for d (or, for workPrep, until need wins are
// pooled; for workViews, until the pool runs out) and returns the merged
// tally. With validate every /bid answer also goes through the AdServer's
// own all-or-nothing check (adserversim.ValidateBidResponse).
func (g *generator) run(ctx context.Context, t *target, w work, d time.Duration, need int, validate bool) tally {
	g.phases++
	var stop atomic.Bool
	var prepLeft atomic.Int64
	prepLeft.Store(int64(need))
	callers := make([]*caller, g.concurrency)
	for i := range callers {
		callers[i] = &caller{
			g: g, t: t, work: w, validate: validate, stop: &stop, prepLeft: &prepLeft,
			rnd:  rand.New(rand.NewPCG(g.seed, g.phases<<20|uint64(i))),
			next: i * 7919,
			fan:  make([]bytes.Buffer, len(t.dsps)),
			hdr:  http.Header{"Content-Type": {"application/json"}, "User-Agent": {"GuzzleHttp/7"}},
		}
	}
	deadline := time.Now().Add(d)
	start := time.Now()
	quit := make(chan struct{})
	defer close(quit)
	if g.rate > 0 && w != workPrep {
		ticks := pace(start, d, g.rate, quit)
		for _, c := range callers {
			c.pace = ticks
		}
	}
	var wg sync.WaitGroup
	for _, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(ctx, deadline)
		}()
	}
	wg.Wait()
	var out tally
	for _, c := range callers {
		out.merge(&c.res)
		g.answered = append(g.answered, c.answered...)
		g.viewed = append(g.viewed, c.viewed...)
		g.clicked = append(g.clicked, c.clicked...)
		g.pool.items = append(g.pool.items, c.wins...)
	}
	out.Elapsed = time.Since(start)
	return out
}
