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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/outbound"
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

func (w *Worker) pollLoop(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	failing := false
	for ctx.Err() == nil {
		_, err := w.dispatch(ctx, true)
		failing = w.logClaimError(ctx, err, failing)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

func (w *Worker) wakeLoop(ctx context.Context) {
	failing := false
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		if !w.backlog.Load() && w.Gather > 0 {
			t := time.NewTimer(w.Gather)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			select { // the wake-ups of the gathered notices
			case <-w.wake:
			default:
			}
		}
		_, err := w.dispatch(ctx, false)
		failing = w.logClaimError(ctx, err, failing)
	}
}

// logClaimError logs the start of an outage once, not every poll, and
// returns whether claims are failing.
func (w *Worker) logClaimError(ctx context.Context, err error, failing bool) bool {
	if err != nil && ctx.Err() == nil {
		if !failing {
			w.Log.Warn("outbox: cannot claim notices", "error", err)
		}
		return true
	}
	return err != nil && failing
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

// claimSince is the oldest created_at claims look at: notices older than
// outbox.max_age are given up when claimed, and the retention keeper gives
// up the ones nobody claimed in time (store.ExpireNotices).
func (w *Worker) claimSince() time.Time { return w.now().Add(-w.MaxAge - ClaimSlack) }

// ClaimAhead is how far past the worker's clock (the database's, as of
// the last claim) a notice's created_at may be and still be claimed: it
// keeps the partitions made ahead of time out of every claim's plan. A
// notice stamped further ahead (an instance's clock ahead) waits until
// the clock catches up with it, minus ClaimAhead.
const ClaimAhead = time.Hour

// ClaimSlack is how much older than outbox.max_age a pending notice may be
// and still be claimed (and then given up by the worker, with its reason).
const ClaimSlack = 24 * time.Hour

// dispatch reserves free per-DSP slots, claims at most that many notices
// per DSP and starts their deliveries. Claiming only what can start at once
// keeps a claim's lease about one call long, whatever the backlog. poll
// asks the database which DSPs have pending notices and claims every free
// slot; a wake-up (poll false) claims for the known DSPs, and only those
// with at least half their slots free, so that a backlog is claimed in
// batches, not one statement per finished call.
func (w *Worker) dispatch(ctx context.Context, poll bool) (int, error) {
	var dsps []string
	if poll {
		w.polls.Add(1)
		var err error
		if dsps, err = w.Store.PendingDSPs(ctx, w.claimSince(), w.now().Add(ClaimAhead)); err != nil {
			return 0, err
		}
		w.mu.Lock()
		w.seen = dsps
		w.mu.Unlock()
		if len(dsps) == 0 {
			return 0, nil
		}
	} else {
		dsps = w.known(w.fresh.Swap(false))
	}
	quota := w.reserve(dsps, !poll)
	if len(quota) == 0 {
		return 0, nil
	}
	var at time.Time
	if w.Now != nil {
		at = w.Now()
	}
	local := time.Now()
	w.claims.Add(1)
	claimed, claimedAt, err := w.Store.ClaimNotices(ctx, store.Claim{Now: at, Lease: w.Lease, Since: w.claimSince(),
		Until: w.now().Add(ClaimAhead), Token: newToken(), Quota: quota})
	if err != nil {
		w.unreserve(quota)
		return 0, err
	}
	if w.Now == nil && !claimedAt.IsZero() {
		w.offset.Store(int64(claimedAt.Sub(local)))
	}
	used := map[string]int{}
	for _, n := range claimed {
		used[n.DSP]++
	}
	w.mu.Lock()
	for dsp, q := range quota {
		if used[dsp] == q {
			w.backlogged[dsp] = true
		} else {
			delete(w.backlogged, dsp)
		}
		quota[dsp] = q - used[dsp]
	}
	w.backlog.Store(len(w.backlogged) > 0)
	w.mu.Unlock()
	w.unreserve(quota)
	for _, n := range claimed {
		w.wg.Add(1)
		go w.deliver(context.WithoutCancel(ctx), n)
	}
	return len(claimed), nil
}

// deliver makes one claimed notice's call in its reserved slot and records
// the outcome (w.wg.Add done by the caller). ctx is not cancelled on
// shutdown: the call is bounded by Timeout and its outcome must be recorded.
func (w *Worker) deliver(ctx context.Context, n store.Notice) {
	defer w.wg.Done()
	// The slot is the call: it is given back before the outcome is written
	// (in a group with others), so that the next claim does not wait for
	// that commit.
	w.calling.Add(1)
	o := w.attempt(ctx, n)
	w.calling.Add(-1)
	w.finished(n.DSP)
	w.record(ctx, o)
}

// known are the DSPs a wake-up claims for: after Wake the configured ones
// and those the last poll found with pending notices, otherwise (slots
// freed) those with a backlog.
func (w *Worker) known(fresh bool) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !fresh {
		out := make([]string, 0, len(w.backlogged))
		for d := range w.backlogged {
			out = append(out, d)
		}
		return out
	}
	out := make([]string, 0, len(w.configured)+len(w.seen))
	for d := range w.configured {
		out = append(out, d)
	}
	for _, d := range w.seen {
		if !w.configured[d] {
			out = append(out, d)
		}
	}
	return out
}

// attempt makes one call and returns its outcome. ctx is not cancelled on
// shutdown: the call is bounded by Timeout and its outcome must be recorded.
func (w *Worker) attempt(ctx context.Context, n store.Notice) store.Outcome {
	now := w.now()
	if age := now.Sub(n.CreatedAt); age >= w.MaxAge {
		w.count(n, "expired")
		return store.Outcome{Notice: n, Status: store.NoticeUndelivered,
			Reason: fmt.Sprintf("older than outbox.max_age (%s) before delivery", w.MaxAge)}
	}
	status, err := w.call(ctx, n)
	now = w.now()
	if r, ok := outbound.AsRefused(err); ok {
		// The policy refuses this URL (or where it redirects): it always
		// will, so it is never retried. A request was sent only if the
		// refusal came at a redirect.
		w.Log.Warn("outbox: notice blocked by the outbound URL policy", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "reason", r.Error())
		w.count(n, "blocked")
		return store.Outcome{Notice: n, Status: store.NoticeUndelivered, Attempted: r.Redirect > 0, Reason: r.Error()}
	}
	switch {
	case err == nil && status >= 200 && status < 300:
		// Debug, not info: a view's burl and pixels would add lines to the
		// view's own, and outbox_deliveries_total counts them. Guarded so
		// that a disabled line costs no argument boxing.
		if w.Log.Enabled(ctx, slog.LevelDebug) {
			w.Log.DebugContext(ctx, "outbox: notice delivered", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "status", status, "attempts", n.Attempts+1)
		}
		w.count(n, "delivered")
		w.adapt(n.DSP, true)
		return store.Outcome{Notice: n, Status: store.NoticeDelivered, At: now, HTTPStatus: status, Attempted: true}
	case err == nil && status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		// The DSP refuses this notice: asking again would be refused too.
		w.Log.Warn("outbox: notice refused", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "status", status)
		w.count(n, "refused")
		return store.Outcome{Notice: n, Status: store.NoticeUndelivered, HTTPStatus: status, Attempted: true,
			Reason: fmt.Sprintf("refused with HTTP %d", status)}
	}
	w.adapt(n.DSP, false)
	reason := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		reason = err.Error()
	}
	next := now.Add(w.backoff(n.Attempts + 1))
	if next.Sub(n.CreatedAt) >= w.MaxAge {
		w.Log.Warn("outbox: notice undelivered after max age", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "attempts", n.Attempts+1, "last_error", reason)
		w.count(n, "expired")
		return store.Outcome{Notice: n, Status: store.NoticeUndelivered, HTTPStatus: status, Attempted: true,
			Reason: "max age reached; last error: " + reason}
	}
	w.count(n, "retry")
	return store.Outcome{Notice: n, Status: store.NoticePending, Next: next, HTTPStatus: status, Attempted: true, Reason: reason}
}

func (w *Worker) count(n store.Notice, result string) {
	if w.Observe != nil {
		w.Observe(n.DSP, n.Kind, result)
	}
}

// call GETs the notice's URL within Timeout through its DSP's outbound
// client and returns the final status (after at most three redirects). The
// URL is parsed once, by the client's policy check; the body is read
// (bounded) so that the connection is reused; a refusal by the policy is an
// *outbound.RefusedError.
func (w *Worker) call(ctx context.Context, n store.Notice) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	resp, err := w.clients.get(n.DSP).Get(ctx, n.URL)
	if resp != nil {
		// The status is the DSP's answer; a body cut short after it (err
		// set) does not change that.
		return resp.Status, nil
	}
	return 0, err
}

// backoff is the delay before attempt number attempt+1: BackoffBase doubled
// per failed attempt, capped at BackoffMax, with jitter so that notices
// that failed together do not retry together.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.BackoffBase
	for i := 1; i < attempts && d < w.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, w.BackoffMax)
	if w.Jitter != nil {
		return w.Jitter(d)
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func newToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
