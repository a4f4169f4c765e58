package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/dspsim"
)

// DefaultFaultRate is the share of requests to each DSP surface that fail.
const DefaultFaultRate = 0.1

// chaosRun is one chaos run in progress.
type chaosRun struct {
	o      *Options
	e      *env
	g      *generator
	canary *canary
	kills  int

	bridgePID atomic.Int64 // the bridge now running (a kill starts another)
	trafficS  float64      // how long the traffic ran (at least the duration)
	starved   Starvation   // set when the traffic ends

	mu          sync.Mutex
	disruptions []Disruption
}

// ValidateChaos checks what a chaos run adds to the options.
func (o *Options) ValidateChaos() error {
	var errs []error
	if o.Duration < 10*time.Second {
		errs = append(errs, fmt.Errorf("--chaos --duration %s: at least 10s, to fit a PostgreSQL restart, a kill and a crash", o.Duration))
	}
	if o.Rate != 0 {
		// The soak's outages and its stall accounting assume callers that
		// wait for their answers.
		errs = append(errs, fmt.Errorf("--chaos --rate %g: the soak runs closed loop only", o.Rate))
	}
	if o.FaultRate < 0 || o.FaultRate > 0.5 {
		errs = append(errs, fmt.Errorf("--fault-rate %g: must be within 0..0.5", o.FaultRate))
	}
	return errors.Join(errs...)
}

// RunChaos runs `bridge bench --chaos`: o.Duration of mixed traffic
// (o.Concurrency callers, o.ViewFraction, o.ClickFraction) against three
// simulated DSPs that fail o.FaultRate of the requests to each of their
// surfaces, with the disruptions of chaosPlan, then a calm drain and the
// reconciliation. The error is for a run that could not be made; a run
// that lost something returns a report with OK false.
func RunChaos(ctx context.Context, o Options) (*ChaosReport, error) {
	o.Mode, o.DSPs, o.HungDSP, o.Floor, o.MinSlots, o.MaxSlots = ModeMixed, chaosDSPs, false, false, max(o.MinSlots, 1), max(o.MaxSlots, 2)
	if o.FaultRate == 0 {
		o.FaultRate = DefaultFaultRate
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := o.ValidateChaos(); err != nil {
		return nil, err
	}
	can, err := startCanary()
	if err != nil {
		return nil, err
	}
	defer can.close()
	o.hooks = envHooks{allow: chaosAllow, extra: chaosConfig, dsp: func(i int, d *dspsim.Options) {
		d.RedirectTo = can.url(i)
		d.Fault = dspsim.RandomFaults(o.FaultRate, o.Seed+uint64(i), chaosKinds(i))
		if i > 0 {
			d.Creative, d.CreativeQuery = dspsim.CreativeImage, true
		}
	}}
	r := &ChaosReport{}
	e, targets, g, stop, err := startRun(ctx, &o, func() bool { return r.Dir != "" },
		"starting PostgreSQL (fsync on), %d faulty DSP(s) (%.0f%% of requests on each surface), a canary on %v, the bridge...",
		o.DSPs, 100*o.FaultRate, can.urls)
	if err != nil {
		return nil, err
	}
	defer stop()
	g.outage, g.stalls = &outages{}, &outages{}
	m := &chaosRun{o: &o, e: e, g: g, canary: can}

	o.progress("chaos for %s: faults on every surface, PostgreSQL restarted and crashed, the bridge killed with -9...", o.Duration)
	start := time.Now()
	// The traffic runs for the duration, and on until two seconds after the
	// last disruption recovered: on a slow machine a restart may take
	// longer than planned, and every disruption must end with traffic
	// flowing again (and PostgreSQL up for the drain).
	tctx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		m.disrupt(ctx, start)
		select {
		case <-ctx.Done():
		case <-time.After(max(time.Until(start.Add(o.Duration)), 2*time.Second)):
		}
		stopTraffic()
	}()
	go func() {
		defer wg.Done()
		watchStalls(tctx.Done(), g.stalls, 50*time.Millisecond)
	}()
	m.bridgePID.Store(int64(e.bridge.pid()))
	go func() {
		defer wg.Done()
		m.starved = watchStarvation(tctx.Done(), &m.bridgePID)
	}()
	// Every answer also goes through the AdServer's own all-or-nothing check.
	t := g.run(tctx, targets[Bridge], workBids, o.Duration+10*time.Minute, 0, true)
	stopTraffic()
	wg.Wait()
	m.trafficS = time.Since(start).Seconds()
	if ctx.Err() != nil {
		return nil, errInterrupted
	}
	for _, d := range e.dsps {
		d.SetFault(nil) // a calm drain: what was retried can now be delivered
	}
	o.progress("faults off; waiting for the outbox and the spool to drain (at most %s)...", o.DrainTimeout)
	drained, err := e.drain(ctx, o.DrainTimeout)
	if err != nil {
		return nil, err
	}
	o.progress("waiting for the payment reports to settle...")
	pay, err := checkPayments(ctx, func() *pgx.Conn { return e.db }, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if o.BeforeCheck != nil {
		if err := o.BeforeCheck(ctx, e.db); err != nil {
			return nil, err
		}
	}
	books, err := checkBooks(ctx, e.db, g.ledger(e), drained)
	if err != nil {
		return nil, err
	}
	notices, err := checkNotices(ctx, e.db)
	if err != nil {
		return nil, err
	}
	*r = m.report(&t, books, notices, pay)
	if done, err := e.bridge.exited(); done {
		r.Problems = append(r.Problems, fmt.Sprintf("the bridge exited during the run (%v)", err))
	}
	r.OK = len(r.Problems) == 0
	if !r.OK {
		r.Dir = e.dir
	}
	return r, nil
}
