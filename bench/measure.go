package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// measure runs the phases of a run and adds up what each system did.
type measure struct {
	o        *Options
	e        *env
	g        *generator
	targets  map[System]*target
	acc      map[System]*accum
	viewRate float64 // views mode: the best views/s seen, to size the pool of wins
	problems []string
}

// accum is one system's phases added up.
type accum struct {
	t          tally
	cpu        cpuSnap
	roundRates []float64
}

func (m *measure) work() work {
	if m.o.Mode == ModeViews {
		return workViews
	}
	return workBids
}

// ops is what CPU and the rate are counted per: auctions, or views.
func (m *measure) ops(t *tally) int64 {
	if m.o.Mode == ModeViews {
		return t.Views
	}
	return t.Bids
}

func (m *measure) unit() string {
	if m.o.Mode == ModeViews {
		return "view"
	}
	return "auction"
}

// warmup runs each system once, unmeasured: connections, caches and the
// database's first pages warm up, the AdServer's own check is applied to
// every bridge answer, and the first DSP keeps the bridge's BidRequests
// for the floor to replay.
func (m *measure) warmup(ctx context.Context) error {
	o := m.o
	o.progress("warming up each system for %s...", o.Warmup)
	var t tally
	if o.Mode == ModeViews {
		m.fill(ctx, 20*o.Concurrency+500)
		t = m.g.run(ctx, m.targets[Bridge], workViews, o.Warmup, 0, false)
		m.viewRate = rate(t.Views, t.Elapsed)
	} else {
		t = m.g.run(ctx, m.targets[Bridge], workBids, o.Warmup, 0, true)
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	if n := t.BidErrors + t.ViewErrors + t.ClickErrors; n > 0 {
		msg := fmt.Sprintf("warm-up: %d failed call(s) to the bridge, first: %s", n, t.FirstError)
		if strings.Contains(t.FirstError, "AdServer rejects") {
			m.problems = append(m.problems, msg)
		}
		o.progress("%s", msg)
	}
	if !o.Floor {
		return nil
	}
	if o.Mode != ModeViews {
		for _, rec := range m.e.dsps[0].Requests() {
			m.g.rtb = append(m.g.rtb, rtbBody{body: rec.Body, imps: len(rec.Request.Imp)})
		}
		if len(m.g.rtb) == 0 {
			return fmt.Errorf("bench: the bridge sent no BidRequest to %s during the warm-up; see %s", m.e.names[0], m.e.bridge.log.Name())
		}
	}
	for _, sys := range o.systems()[1:] {
		m.g.run(ctx, m.targets[sys], m.work(), o.Warmup, 0, false)
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}

// fill makes wins until need are waiting to be viewed (views mode). Those
// auctions are not measured.
func (m *measure) fill(ctx context.Context, need int) {
	more := need - m.g.pool.left()
	if more <= 0 {
		return
	}
	t := m.g.run(ctx, m.targets[Bridge], workPrep, 10*time.Minute, more, false)
	m.o.progress("made %d wins to view in %s (%d /bid calls of %d slots, not measured)", t.Wins, t.Elapsed.Round(time.Millisecond), t.Bids, MaxSlots)
}

// rounds measures every system Duration/Rounds per round, each round
// starting with the next system, so that the machine's changing load falls
// on all of them alike.
func (m *measure) rounds(ctx context.Context) error {
	o := m.o
	slice := o.Duration / time.Duration(o.Rounds)
	systems := o.systems()
	for r := range o.Rounds {
		for k := range systems {
			sys := systems[(k+r)%len(systems)]
			if ctx.Err() != nil {
				return errInterrupted
			}
			if sys == Bridge && o.Mode == ModeViews {
				m.fill(ctx, int(1.5*m.viewRate*slice.Seconds())+1000)
			}
			floorBooks := sys == Floor && o.Mode == ModeViews
			var storedBefore int64
			if floorBooks {
				if err := m.e.db.QueryRow(ctx, CountFloorViewsSQL).Scan(&storedBefore); err != nil {
					return fmt.Errorf("bench: floor views: %w", err)
				}
			}
			before, err := m.e.cpu()
			if err != nil {
				return err
			}
			t := m.g.run(ctx, m.targets[sys], m.work(), slice, 0, false)
			if ctx.Err() != nil {
				return errInterrupted
			}
			if sys == Bridge {
				// The notices of this phase's views are part of its cost.
				if ok, err := m.e.drain(ctx, 30*time.Second); err != nil {
					return err
				} else if !ok {
					o.progress("round %d: the outbox did not drain within 30s", r+1)
				}
			}
			after, err := m.e.cpu()
			if err != nil {
				return err
			}
			if floorBooks {
				// Every view the floor answered 204 is a distinct row.
				var stored int64
				if err := m.e.db.QueryRow(ctx, CountFloorViewsSQL).Scan(&stored); err != nil {
					return fmt.Errorf("bench: floor views: %w", err)
				}
				if stored-storedBefore != t.Views {
					m.problems = append(m.problems, fmt.Sprintf("floor round %d: %d views answered 204, %d stored", r+1, t.Views, stored-storedBefore))
				}
			}
			a := m.acc[sys]
			if a == nil {
				a = &accum{}
				m.acc[sys] = a
			}
			a.t.merge(&t)
			a.cpu = a.cpu.add(after.sub(before))
			rt := rate(m.ops(&t), t.Elapsed)
			a.roundRates = append(a.roundRates, rt)
			if sys == Bridge && o.Mode == ModeViews {
				m.viewRate = max(m.viewRate, rt)
			}
			h := &t.Bid
			if o.Mode == ModeViews {
				h = &t.View
			}
			o.progress("round %d/%d %-6s %7.0f %ss/s  p50 %6.2f ms  p99 %6.2f ms  errors %d",
				r+1, o.Rounds, sys, rt, m.unit(), ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), t.BidErrors+t.ViewErrors+t.ClickErrors)
		}
	}
	return nil
}

func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// report turns the sums into the Report (without books and memory).
func (m *measure) report() *Report {
	o := m.o
	r := &Report{
		Mode: o.Mode, Unit: m.unit(), DSPs: o.DSPs, HungDSP: o.HungDSP, Slots: o.slotsLabel(), Concurrency: o.Concurrency, Rate: o.Rate,
		DurationS: o.Duration.Seconds(), Rounds: o.Rounds, TMaxMS: ms(o.TMax), DSPLatencyMS: ms(o.DSPLatency), NoBURL: o.NoBURL,
	}
	if o.Mode == ModeMixed {
		r.ViewFraction, r.ClickFraction = o.ViewFraction, o.ClickFraction
	}
	for _, sys := range o.systems() {
		a := m.acc[sys]
		if a == nil {
			continue
		}
		t := &a.t
		ops := m.ops(t)
		per := func(d time.Duration) *float64 {
			v := 0.0
			if ops > 0 {
				v = float64(d.Microseconds()) / float64(ops)
			}
			return &v
		}
		res := SystemResult{
			System: sys, ElapsedS: t.Elapsed.Seconds(),
			Auctions: t.Bids, AuctionsPS: rate(t.Bids, t.Elapsed), Slots: t.Slots, Wins: t.Wins, WinsPS: rate(t.Wins, t.Elapsed),
			Views: t.Views, ViewsPS: rate(t.Views, t.Elapsed), Clicks: t.Clicks,
			Errors: t.BidErrors + t.ViewErrors + t.ClickErrors, BidErrors: t.BidErrors, ViewErrors: t.ViewErrors, ClickErrors: t.ClickErrors,
			NoBids: t.NoBids, Late: t.Late, Bid: latencyOf(&t.Bid), View: latencyOf(&t.View),
			CPUBenchUS: *per(a.cpu.bench), StealMSPerS: rate(a.cpu.steal.Milliseconds(), t.Elapsed), RoundRates: a.roundRates, PoolExhausted: t.Exhausted, FirstError: t.FirstError,
		}
		switch sys {
		case Bridge:
			res.CPUServerUS, res.CPUPostgresUS = per(a.cpu.bridge), per(a.cpu.postgres)
		case Floor:
			res.CPUServerUS = per(a.cpu.proxy)
			if o.Mode == ModeViews {
				// Its views are stored in the same PostgreSQL.
				res.CPUPostgresUS = per(a.cpu.postgres)
			}
		}
		r.Systems = append(r.Systems, res)
	}
	br, fl := r.system(Bridge), r.system(Floor)
	if br == nil || fl == nil {
		return r
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	lb, lf := br.Bid, fl.Bid
	rb, rf := br.AuctionsPS, fl.AuctionsPS
	if o.Mode == ModeViews {
		lb, lf = br.View, fl.View
		rb, rf = br.ViewsPS, fl.ViewsPS
	}
	r.Ratios = &Ratios{
		Rate: div(rb, rf), P50: div(lb.P50MS, lf.P50MS), P99: div(lb.P99MS, lf.P99MS),
		CPU: div(*br.CPUServerUS, *fl.CPUServerUS), CPUWithDB: div(*br.CPUServerUS+*br.CPUPostgresUS, *fl.CPUServerUS+deref(fl.CPUPostgresUS)),
	}
	for i := range min(len(br.RoundRates), len(fl.RoundRates)) {
		r.Ratios.RoundRates = append(r.Ratios.RoundRates, div(br.RoundRates[i], fl.RoundRates[i]))
	}
	return r
}

// rssSampler samples a process's resident memory until stopped.
type rssSampler struct {
	once              sync.Once
	quit              chan struct{}
	done              chan struct{}
	pid               int
	start, peak, last int64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan struct{}), pid: pid}
	s.start, _ = RSS(pid)
	s.peak, s.last = s.start, s.start
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				if v, err := RSS(pid); err == nil {
					s.last, s.peak = v, max(s.peak, v)
				}
			}
		}
	}()
	return s
}

// stop ends the sampling (once) and returns start, peak and last in bytes.
func (s *rssSampler) stop() (start, peak, last int64) {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		if v, err := RSS(s.pid); err == nil {
			s.last, s.peak = v, max(s.peak, v)
		}
	})
	return s.start, s.peak, s.last
}
