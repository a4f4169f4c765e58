// Package outbox delivers the nurl/burl notices written to the outbox table
// alongside their events: claimed with SELECT ... FOR UPDATE SKIP LOCKED
// under a lease, bounded per DSP, fetched through the outbound URL policy
// with the DSP's own allow_networks, retried with exponential backoff and
// jitter on network errors and 5xx, given up on 4xx, on a URL the policy
// refuses or past the maximum age, and marked delivered only after a 2xx.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
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
	// Now is the clock for due times, backoff and max age (tests inject one).
	Now func() time.Time
	// Jitter picks the actual delay for a backoff step d (default: uniform
	// in [d/2, d)).
	Jitter func(d time.Duration) time.Duration

	PerDSP      int           // concurrent deliveries per DSP
	Loops       int           // claim loops in Run (outbox.workers)
	Timeout     time.Duration // per call
	MaxAge      time.Duration // then undelivered
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Poll        time.Duration
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
	wg       sync.WaitGroup // deliveries in flight
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
		clients:     cl,
		Now:         time.Now,
		PerDSP:      cfg.PerDSP,
		Loops:       cfg.Workers,
		Timeout:     cfg.Timeout,
		MaxAge:      cfg.MaxAge,
		BackoffBase: cfg.BackoffBase,
		BackoffMax:  cfg.BackoffMax,
		Poll:        cfg.Poll,
		Lease:       2*cfg.Timeout + 5*time.Second,
	}, nil
}

// SetDSPs applies the DSPs' allow_networks to their notices (at start and
// on every config reload). Notices of a DSP not listed get the strict
// policy. On error (an entry that is not a CIDR prefix) nothing changes.
func (w *Worker) SetDSPs(dsps []config.DSP) error { return w.clients.set(dsps) }

// Wake makes Run claim at once instead of at the next poll (a new notice).
func (w *Worker) Wake() {
	w.init()
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
	}
}

// Run claims and delivers notices until ctx is cancelled, then stops
// claiming and lets deliveries in flight finish (each is bounded by
// Timeout), recording their outcome, before it returns.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	loops := max(w.Loops, 1)
	var lw sync.WaitGroup
	for range loops {
		lw.Add(1)
		go func() {
			defer lw.Done()
			w.loop(ctx)
		}()
	}
	lw.Wait()
	w.wg.Wait()
	return nil
}

func (w *Worker) loop(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	failing := false
	for ctx.Err() == nil {
		n, err := w.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			if !failing { // log the start of an outage once, not every poll
				w.Log.Warn("outbox: cannot claim notices", "error", err)
			}
			failing = true
		} else if err == nil {
			failing = false
		}
		if n > 0 && err == nil {
			continue // there may be more due right now
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Step claims every notice due now (within the per-DSP bounds), delivers
// them and waits for the outcomes; it returns how many it claimed. Tests
// drive the worker with it and an injected clock.
func (w *Worker) Step(ctx context.Context) (int, error) {
	w.init()
	n, err := w.dispatch(ctx)
	w.wg.Wait()
	return n, err
}

// dispatch reserves free per-DSP slots, claims at most that many notices
// per DSP and starts their deliveries. Claiming only what can start at once
// keeps a claim's lease about one call long, whatever the backlog.
func (w *Worker) dispatch(ctx context.Context) (int, error) {
	dsps, err := w.Store.PendingDSPs(ctx)
	if err != nil || len(dsps) == 0 {
		return 0, err
	}
	quota := w.reserve(dsps)
	if len(quota) == 0 {
		return 0, nil
	}
	now := w.Now()
	claimed, err := w.Store.ClaimNotices(ctx, now, now.Add(w.Lease), newToken(), quota)
	if err != nil {
		w.unreserve(quota, false)
		return 0, err
	}
	used := map[string]int{}
	for _, n := range claimed {
		used[n.DSP]++
	}
	for dsp, q := range quota {
		quota[dsp] = q - used[dsp]
	}
	w.unreserve(quota, false)
	for _, n := range claimed {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer w.unreserve(map[string]int{n.DSP: 1}, true)
			w.deliver(context.WithoutCancel(ctx), n)
		}()
	}
	return len(claimed), nil
}

// reserve takes every free slot of the given DSPs.
func (w *Worker) reserve(dsps []string) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := map[string]int{}
	for _, d := range dsps {
		if free := w.PerDSP - w.inflight[d]; free > 0 {
			q[d] = free
			w.inflight[d] += free
		}
	}
	return q
}

// unreserve gives slots back; after a finished delivery (done) it wakes a
// claim loop, since that DSP may have more due notices. Unused
// reservations do not wake anyone: that would spin.
func (w *Worker) unreserve(q map[string]int, done bool) {
	w.mu.Lock()
	for d, n := range q {
		w.inflight[d] -= n
	}
	w.mu.Unlock()
	if done {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// deliver makes one call and records its outcome. ctx is not cancelled on
// shutdown: the call is bounded by Timeout and its outcome must be recorded.
func (w *Worker) deliver(ctx context.Context, n store.Notice) {
	now := w.Now()
	if age := now.Sub(n.CreatedAt); age >= w.MaxAge {
		w.count(n, "expired")
		w.record(ctx, n, func(ctx context.Context) error {
			return w.Store.MarkUndelivered(ctx, n, false, 0, fmt.Sprintf("older than outbox.max_age (%s) before delivery", w.MaxAge))
		})
		return
	}
	status, err := w.call(ctx, n)
	now = w.Now()
	if r, ok := outbound.AsRefused(err); ok {
		// The policy refuses this URL (or where it redirects): it always
		// will, so it is never retried. A request was sent only if the
		// refusal came at a redirect.
		w.Log.Warn("outbox: notice blocked by the outbound URL policy", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "reason", r.Error())
		w.count(n, "blocked")
		w.record(ctx, n, func(ctx context.Context) error {
			return w.Store.MarkUndelivered(ctx, n, r.Redirect > 0, 0, r.Error())
		})
		return
	}
	switch {
	case err == nil && status >= 200 && status < 300:
		w.Log.Info("outbox: notice delivered", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "status", status, "attempts", n.Attempts+1)
		w.count(n, "delivered")
		w.record(ctx, n, func(ctx context.Context) error { return w.Store.MarkDelivered(ctx, n, now, status) })
		return
	case err == nil && status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		// The DSP refuses this notice: asking again would be refused too.
		w.Log.Warn("outbox: notice refused", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "status", status)
		w.count(n, "refused")
		w.record(ctx, n, func(ctx context.Context) error {
			return w.Store.MarkUndelivered(ctx, n, true, status, fmt.Sprintf("refused with HTTP %d", status))
		})
		return
	}
	reason := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		reason = err.Error()
	}
	next := now.Add(w.backoff(n.Attempts + 1))
	if next.Sub(n.CreatedAt) >= w.MaxAge {
		w.Log.Warn("outbox: notice undelivered after max age", "dsp", n.DSP, "kind", n.Kind, "ext_id", n.ExtID, "attempts", n.Attempts+1, "last_error", reason)
		w.count(n, "expired")
		w.record(ctx, n, func(ctx context.Context) error {
			return w.Store.MarkUndelivered(ctx, n, true, status, "max age reached; last error: "+reason)
		})
		return
	}
	w.count(n, "retry")
	w.record(ctx, n, func(ctx context.Context) error { return w.Store.MarkRetry(ctx, n, next, status, reason) })
}

func (w *Worker) count(n store.Notice, result string) {
	if w.Observe != nil {
		w.Observe(n.DSP, n.Kind, result)
	}
}

// call GETs the notice's URL within Timeout through its DSP's outbound
// client and returns the final status (after at most three redirects). The
// body is read (bounded) so that the connection is reused; a refusal by
// the policy is an *outbound.RefusedError.
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

// record stores an outcome, retrying while the database is unreachable for
// up to half the lease: giving up earlier would let the notice be claimed
// and delivered again.
func (w *Worker) record(ctx context.Context, n store.Notice, mark func(context.Context) error) {
	deadline := time.Now().Add(w.Lease / 2)
	wait := 100 * time.Millisecond
	for {
		// Bounded: a database that hangs without closing the connection must
		// not keep this DSP's delivery slot past the lease.
		markCtx, cancel := context.WithDeadline(ctx, deadline)
		err := mark(markCtx)
		cancel()
		if err == nil {
			return
		}
		if errors.Is(err, store.ErrClaimLost) {
			w.Log.Warn("outbox: claim expired before the outcome was recorded", "id", n.ID, "dsp", n.DSP, "ext_id", n.ExtID)
			return
		}
		if time.Now().Add(wait).After(deadline) {
			w.Log.Error("outbox: outcome not recorded; the notice comes back after its lease", "id", n.ID, "dsp", n.DSP, "ext_id", n.ExtID, "error", err)
			return
		}
		time.Sleep(wait)
		wait = min(wait*2, 2*time.Second)
	}
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
	b, err := w.Store.Backlog(ctx)
	if err != nil {
		return "outbox", map[string]any{"ok": true, "error": err.Error()}, true
	}
	detail := map[string]any{"ok": true, "pending": b.Pending, "retrying": b.Retrying}
	if b.OldestPending != nil {
		detail["oldest_pending_age_s"] = int64(w.Now().Sub(*b.OldestPending).Seconds())
	}
	return "outbox", detail, true
}
