package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// Claiming: the poll and wake-up loops, and the claim of every notice due
// (dispatch) within the free per-DSP slots, under a lease.

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

func newToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
