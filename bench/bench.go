// Package bench is `bridge bench`: a load run that starts a throwaway
// PostgreSQL with durable commits, simulated DSPs, the bridge as its own
// process and an AdServer-shaped load generator, measures the bridge
// against a zero-logic floor under the same load in the same run
// (interleaved rounds, so that a shared machine's noise hits both), and
// then checks its own books: every win, view and notice the bridge said
// yes to is where it must be.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/dspsim"
)

// Mode is what a run measures.
type Mode string

// Modes.
const (
	ModeAuction Mode = "auction" // /bid only
	ModeViews   Mode = "views"   // views of distinct wins (the wins are made first, unmeasured)
	ModeMixed   Mode = "mixed"   // /bid, and a view of a share of the wins, a click of a share of those
)

// maxCaptured is how many of the bridge's BidRequests the first DSP keeps
// for the floor to replay.
const maxCaptured = 512

// Options configure a run. Zero values mean the defaults noted.
type Options struct {
	// Exe is the bridge binary: the run starts `Exe serve` and `Exe bench proxy`.
	Exe string
	// Env is added to the children's environment (say BRIDGE_LOG_LEVEL=warn);
	// inherited BRIDGE_* variables are dropped.
	Env []string

	DSPs               int           // bidding DSPs (1)
	HungDSP            bool          // one more DSP that never answers
	MinSlots, MaxSlots int           // slots per /bid (1..1)
	Concurrency        int           // callers (16): closed loop, or at most this many calls in flight with Rate
	Rate               float64       // open loop: calls started per second per system (0: closed loop)
	Duration           time.Duration // measured time per system, all rounds together (10s)
	Rounds             int           // rounds alternating the systems (3)
	Warmup             time.Duration // per system, unmeasured, before the rounds (1s, at least 200ms)
	Mode               Mode          // auction
	ViewFraction       float64       // mixed: share of wins viewed (0.1)
	ClickFraction      float64       // mixed: share of views clicked (0.1)
	DSPLatency         time.Duration // every simulated DSP answers after this
	NoBURL             bool          // the DSPs' bids carry no burl, so views enqueue no notice
	TMax               time.Duration // auction.tmax (1000ms)
	Seed               uint64        // traffic and prices (1)
	Floor              bool          // also measure the floor and the direct calls
	Pprof              bool          // turn on the bridge's pprof on its metrics port
	DrainTimeout       time.Duration // how long the final wait for the outbox may take (60s)
	FaultRate          float64       // chaos: share of requests to each DSP surface that fail (DefaultFaultRate)

	// Progress gets a line per phase (nil: none).
	Progress io.Writer
	// Hold, if set, is called after the books check with everything still
	// running (--keep); the run stops everything when it returns.
	Hold func(r *Report, info HoldInfo)
	// BeforeCheck, if set, runs on the bench's database connection just
	// before the books check (tests use it to lose a view on purpose).
	BeforeCheck func(ctx context.Context, db *pgx.Conn) error

	hooks envHooks // what a chaos run changes in the environment
}

// envHooks change the environment a run starts (the chaos run's DSPs and
// config); the zero value changes nothing.
type envHooks struct {
	dsp   func(i int, o *dspsim.Options) // adjusts each bidding DSP's options
	allow string                         // every DSP's allow_networks (default 127.0.0.0/8)
	extra string                         // YAML appended to the generated config
}

// HoldInfo says where the running parts of a kept run are.
type HoldInfo struct {
	BridgeURL, MetricsAddr, DatabaseURL, ConfigPath, Dir string
}

func (o *Options) defaults() {
	if o.DSPs == 0 {
		o.DSPs = 1
	}
	if o.MinSlots == 0 {
		o.MinSlots = 1
	}
	if o.MaxSlots == 0 {
		o.MaxSlots = o.MinSlots
	}
	if o.Concurrency == 0 {
		o.Concurrency = 16
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	o.Warmup = max(o.Warmup, 200*time.Millisecond)
	if o.Mode == "" {
		o.Mode = ModeAuction
	}
	if o.TMax == 0 {
		o.TMax = time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = time.Minute
	}
}

// Validate fills in the defaults and lists everything wrong with the
// options.
func (o *Options) Validate() error {
	o.defaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Exe == "" {
		bad("the bridge binary is not set")
	}
	if o.DSPs < 1 || o.DSPs > 32 {
		bad("--dsps %d: must be 1..32", o.DSPs)
	}
	if o.MinSlots < 1 || o.MaxSlots > MaxSlots || o.MinSlots > o.MaxSlots {
		bad("--slots %d-%d: must be within 1..%d", o.MinSlots, o.MaxSlots, MaxSlots)
	}
	if o.Concurrency < 1 || o.Concurrency > 4096 {
		bad("--concurrency %d: must be 1..4096", o.Concurrency)
	}
	if o.Rate < 0 || o.Rate > 1e6 {
		bad("--rate %g: must be 0 (closed loop) or up to 1000000 calls/s", o.Rate)
	}
	if o.Rounds < 1 || o.Duration/time.Duration(max(o.Rounds, 1)) < 100*time.Millisecond {
		bad("--duration %s over %d round(s): each round must measure each system at least 100ms", o.Duration, o.Rounds)
	}
	if !slices.Contains([]Mode{ModeAuction, ModeViews, ModeMixed}, o.Mode) {
		bad("--mode %q: must be auction, views or mixed", o.Mode)
	}
	if o.ViewFraction < 0 || o.ViewFraction > 1 || o.ClickFraction < 0 || o.ClickFraction > 1 {
		bad("--view-fraction and --click-fraction must be within 0..1")
	}
	if o.TMax < 10*time.Millisecond || o.TMax > 30*time.Second {
		bad("--tmax %s: must be 10ms..30s (auction.tmax)", o.TMax)
	}
	if o.DSPLatency < 0 {
		bad("--dsp-latency must not be negative")
	}
	return errors.Join(errs...)
}

// dspTimeout is every DSP's timeout, in the bridge's config and in the
// floor: 80 % of tmax, as the bridge's defaults (800ms of 1000ms).
func (o *Options) dspTimeout() time.Duration { return o.TMax * 8 / 10 }

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "bench: "+format+"\n", args...)
	}
}

func (o *Options) slotsLabel() string {
	if o.MinSlots == o.MaxSlots {
		return strconv.Itoa(o.MinSlots)
	}
	return fmt.Sprintf("%d-%d", o.MinSlots, o.MaxSlots)
}

// systems are the systems of a run, in the order of its first round.
func (o *Options) systems() []System {
	switch {
	case !o.Floor:
		return []System{Bridge}
	case o.Mode == ModeViews:
		return []System{Bridge, Floor} // nothing to view straight at a DSP
	default:
		return []System{Bridge, Floor, Direct}
	}
}

// startRun brings up a run's environment (announced by the progress line
// format, args), the systems to measure and the load generator. stop ends
// it all, keeping the run's directory if keepDir says so by then.
func startRun(ctx context.Context, o *Options, keepDir func() bool, format string, args ...any) (e *env, targets map[System]*target, g *generator, stop func(), err error) {
	o.progress(format, args...)
	if e, err = startEnv(ctx, o); err != nil {
		return nil, nil, nil, nil, err
	}
	stop = func() {
		for _, err := range e.close(!keepDir()) {
			o.progress("stopping: %v", err)
		}
	}
	o.progress("bridge %s (log %s), PostgreSQL %s", e.bridgeURL, e.bridge.log.Name(), e.cluster.URL("postgres"))
	if o.Pprof {
		o.progress("bridge pprof http://%s/debug/pprof/ (e.g. go tool pprof http://%s/debug/pprof/profile?seconds=15)", e.metrics, e.metrics)
	}
	if targets, err = e.targets(o); err == nil {
		g, err = newGenerator(o, e)
	}
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	return e, targets, g, stop, nil
}

// Run starts everything, runs the load and checks the books. The error is
// for a run that could not be made; a run that lost something returns a
// Report with OK false.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	floor := ""
	if o.Floor {
		floor = " and the floor proxy"
	}
	r := &Report{}
	e, targets, g, stop, err := startRun(ctx, &o, func() bool { return r.Dir != "" },
		"starting PostgreSQL (fsync on), %d simulated DSP(s), the bridge%s...", o.DSPs+b2i(o.HungDSP), floor)
	if err != nil {
		return nil, err
	}
	defer stop()
	rss := sampleRSS(e.bridge.pid(), 100*time.Millisecond)
	defer rss.stop()

	m := &measure{o: &o, e: e, g: g, targets: targets, acc: map[System]*accum{}}
	if err := m.warmup(ctx); err != nil {
		return nil, err
	}
	if err := m.rounds(ctx); err != nil {
		return nil, err
	}
	o.progress("waiting for the outbox and the spool to drain (at most %s)...", o.DrainTimeout)
	drained, err := e.drain(ctx, o.DrainTimeout)
	if err != nil {
		return nil, err
	}
	var problems []string
	if done, err := e.bridge.exited(); done {
		problems = append(problems, fmt.Sprintf("the bridge exited during the run (%v)", err))
	}
	rssStart, rssMax, rssEnd := rss.stop()
	if o.BeforeCheck != nil {
		if err := o.BeforeCheck(ctx, e.db); err != nil {
			return nil, err
		}
	}
	books, err := checkBooks(ctx, e.db, g.ledger(e), drained)
	if err != nil {
		return nil, err
	}
	*r = *m.report()
	r.BridgeRSSMB = RSSRange{Start: mb(rssStart), Max: mb(rssMax), End: mb(rssEnd)}
	r.Books = books
	r.PostgreSQL = e.durability
	r.Problems = append(append(problems, m.problems...), books.Problems...)
	r.OK = len(r.Problems) == 0
	if !r.OK {
		r.Dir = e.dir
	}
	if o.Hold != nil {
		o.Hold(r, HoldInfo{BridgeURL: e.bridgeURL, MetricsAddr: e.metrics, DatabaseURL: e.cluster.URL("postgres"), ConfigPath: e.configPath, Dir: e.dir})
	}
	return r, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// newGenerator pre-builds every call of the run.
func newGenerator(o *Options, e *env) (*generator, error) {
	r := rand.New(rand.NewPCG(o.Seed, 0xb1d))
	g := &generator{
		concurrency: o.Concurrency, mixed: o.Mode == ModeMixed, viewFraction: o.ViewFraction, clickFraction: o.ClickFraction,
		lateAfter: o.TMax + 10*time.Millisecond, seed: o.Seed, rate: o.Rate,
	}
	var err error
	if g.bids, err = buildBidBodies(r, e.creatives, 512, o.MinSlots, o.MaxSlots); err != nil {
		return nil, err
	}
	if o.Mode == ModeViews {
		if g.prep, err = buildBidBodies(r, e.creatives, 64, MaxSlots, MaxSlots); err != nil {
			return nil, err
		}
	}
	if g.views, err = buildEventTemplates(r, adserverAddr, 256, false); err != nil {
		return nil, err
	}
	if g.clicks, err = buildEventTemplates(r, adserverAddr, 64, true); err != nil {
		return nil, err
	}
	return g, nil
}

// ledger is what the bridge accepted, with what the DSPs were billed.
func (g *generator) ledger(e *env) ledger {
	l := ledger{answered: g.answered, viewed: g.viewed, clicked: g.clicked, bills: map[billKey]bool{}, noBURL: e.noBURL}
	for i, d := range e.dsps {
		for _, q := range d.Bills() {
			l.bills[billKey{dsp: e.names[i], auction: q.Get("auction"), bid: q.Get("bid")}] = true
		}
	}
	return l
}
