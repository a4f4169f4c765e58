// Package outbox delivers the nurl/burl notices written to the outbox table
// alongside their events: claimed with SELECT ... FOR UPDATE SKIP LOCKED
// under a lease (or inserted under one and handed over from memory,
// Deliver), bounded per DSP, fetched through the outbound URL policy
// with the DSP's own allow_networks, retried with exponential backoff and
// jitter on network errors and 5xx, given up on 4xx, on a URL the policy
// refuses or past the maximum age, and marked delivered only after a 2xx.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/store"
)

// Worker delivers due notices. Several workers (in one process or in
// several bridge instances) may share a database: a notice is claimed by one
// at a time.
type Worker struct {
	Store *store.Store
	Log   *slog.Logger
	// Now is the clock for due times, leases, backoff and max age. nil (the
	// bridge) is the database's clock, read at every claim: instances with
	// skewed clocks then agree on when a lease ends. Tests inject one.
	Now func() time.Time
	// Jitter picks the actual delay for a backoff step d (default: uniform
	// in [d/2, d)).
	Jitter func(d time.Duration) time.Duration

	PerDSP      int           // concurrent deliveries per DSP at most (halved while it fails)
	Loops       int           // poll loops in Run (outbox.workers), besides the wake-up loop
	Timeout     time.Duration // per call
	MaxAge      time.Duration // then undelivered
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Poll        time.Duration
	// Gather is how long a wake-up waits before claiming when there was no
	// backlog, so that the notices enqueued meanwhile are claimed together
	// (one claim statement for many, and at most one per Gather however
	// often the enqueuers wake the worker).
	Gather time.Duration
	// OutcomeGather is how long an outcome's write waits for those of the
	// calls still in flight, so that a claim's outcomes share a statement.
	OutcomeGather time.Duration
	// Lease is how long a claim lasts; a worker that dies holding it gives
	// the notice back after it. It must exceed Timeout by the time it takes
	// to record the outcome.
	Lease time.Duration
	// Observe, if set, counts every delivery outcome per DSP and kind:
	// delivered, retry, refused (4xx), blocked (the outbound URL policy
	// refused the URL) or expired (past outbox.max_age).
	Observe func(dsp, kind, result string)

	clients  *clients
	wake     chan struct{}
	mu       sync.Mutex
	inflight map[string]int // per DSP: reserved or delivering
	limit    map[string]int // per DSP: the adaptive bound, 1..PerDSP
	wg       sync.WaitGroup // deliveries in flight
	// offset is the database's clock minus this process's (nanoseconds),
	// measured at every claim (when Now is nil).
	offset atomic.Int64

	omu      sync.Mutex // outcomes waiting to be written, and whether one is
	outcomes []*outcome // writing (group commit: one statement for all)
	flushing bool
	flushes  atomic.Int64 // statements that wrote outcomes

	// known are the DSPs a wake-up claims for without asking the database
	// which have pending notices: the configured ones (SetDSPs) and those
	// the last poll found pending (w.mu).
	configured map[string]bool
	seen       []string
	// backlogged are the DSPs whose last claim filled their quota: there
	// may be more due at once, so their freed slots wake the claimer, which
	// then does not gather (w.mu; backlog is len(backlogged) > 0).
	backlogged map[string]bool
	backlog    atomic.Bool
	// queued are, per DSP, notices handed to Deliver that wait for a slot
	// (w.mu); stopped says Run has returned: Deliver starts nothing more.
	queued  map[string][]direct
	nqueued int
	stopped bool
	// leftToLease counts notices handed to Deliver that were not called
	// from memory (no room, too late, stopping): a claim takes them once
	// their lease passes.
	leftToLease atomic.Int64
	// fresh says Wake was called since the last wake-up claim: new notices,
	// of any known DSP. Without it a wake-up claims for the backlogged only.
	fresh   atomic.Bool
	calling atomic.Int64 // calls in flight, all DSPs
	claims  atomic.Int64 // claim rounds that reached the database
	polls   atomic.Int64 // PendingDSPs queries
}

// outcome is one delivery's result waiting for its write.
type outcome struct {
	o    store.Outcome
	done chan struct{}
}

// New builds a worker from the outbox.* settings. Until SetDSPs gives it
// the DSPs' allow_networks, every notice gets the strict outbound policy.
func New(st *store.Store, cfg config.Outbox, log *slog.Logger) (*Worker, error) {
	cl, err := newClients(cfg)
	if err != nil {
		return nil, err
	}
	return &Worker{
		Store: st, Log: log,
		clients:       cl,
		PerDSP:        cfg.PerDSP,
		Loops:         cfg.Workers,
		Timeout:       cfg.Timeout,
		MaxAge:        cfg.MaxAge,
		BackoffBase:   cfg.BackoffBase,
		BackoffMax:    cfg.BackoffMax,
		Poll:          cfg.Poll,
		Gather:        DefaultGather,
		OutcomeGather: time.Millisecond,
		Lease:         2*cfg.Timeout + 5*time.Second,
	}, nil
}

// SetDSPs applies the DSPs' allow_networks to their notices (at start and
// on every config reload). Notices of a DSP not listed get the strict
// policy. On error (an entry that is not a CIDR prefix) nothing changes.
func (w *Worker) SetDSPs(dsps []config.DSP) error {
	if err := w.clients.set(dsps); err != nil {
		return err
	}
	w.init()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.configured = map[string]bool{}
	for _, d := range dsps {
		w.configured[d.Name] = true
	}
	return nil
}

// DefaultGather is Worker.Gather as New sets it: a few milliseconds of
// delay on a notice nobody waits for, against a claim per enqueued notice.
const DefaultGather = 20 * time.Millisecond

// Wake makes Run claim at once instead of at the next poll (a new notice).
func (w *Worker) Wake() {
	w.init()
	w.fresh.Store(true)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) init() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
		w.inflight = map[string]int{}
		w.limit = map[string]int{}
		w.backlogged = map[string]bool{}
		w.queued = map[string][]direct{}
	}
}

// Run claims and delivers notices until ctx is cancelled, then stops
// claiming and lets deliveries in flight finish (each is bounded by
// Timeout), recording their outcome, before it returns. Loops poll loops
// ask the database every Poll which DSPs have pending notices (notices of
// other instances, retries coming due); one more loop claims on wake-ups
// (a new notice in this process, freed slots while there is a backlog)
// for the known DSPs without that query.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	w.mu.Lock()
	w.stopped = false
	w.mu.Unlock()
	loops := max(w.Loops, 1)
	var lw sync.WaitGroup
	lw.Add(1)
	go func() {
		defer lw.Done()
		w.wakeLoop(ctx)
	}()
	for range loops {
		lw.Add(1)
		go func() {
			defer lw.Done()
			w.pollLoop(ctx)
		}()
	}
	lw.Wait()
	w.stop()
	w.wg.Wait()
	return nil
}

// Step claims every notice due now (within the per-DSP bounds), delivers
// them and waits for the outcomes; it returns how many it claimed. Tests
// drive the worker with it and an injected clock.
func (w *Worker) Step(ctx context.Context) (int, error) {
	w.init()
	n, err := w.dispatch(ctx, true)
	w.wg.Wait()
	return n, err
}

// now is the worker's clock: the injected one, or the database's as of
// the last claim.
func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now().Add(time.Duration(w.offset.Load()))
}

// Check is the `outbox` readiness detail: the backlog. A backlog never makes
// the bridge unready (events are still recorded and billed); it is shown so
// that an operator sees DSP delivery trouble.
func (w *Worker) Check(ctx context.Context) (string, any, bool) {
	b, err := w.Store.Backlog(ctx, w.claimSince())
	if err != nil {
		return "outbox", map[string]any{"ok": true, "error": err.Error()}, true
	}
	detail := map[string]any{"ok": true, "pending": b.Pending, "retrying": b.Retrying}
	if b.OldestPending != nil {
		detail["oldest_pending_age_s"] = max(int64(w.now().Sub(*b.OldestPending).Seconds()), 0)
	}
	return "outbox", detail, true
}
