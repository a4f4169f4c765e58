package outbox

import (
	"context"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// Notices this instance enqueues itself (the burl and pixels of a billed
// view) are delivered straight from memory after their commit, without a
// claim statement: they are inserted already claimed (NoticeLease), so no
// other worker takes them while the lease holds, and any worker, in any
// instance, takes them once it passes (this one crashed, or never got to
// call them). That is exactly what a claim guarantees: once in normal
// operation, at least once across crashes.

// maxQueued is how many notices handed to Deliver may wait for a DSP's
// slot at once (all DSPs); more are left to their lease.
const maxQueued = 8192

// direct is a notice handed to Deliver, waiting for a slot until by.
type direct struct {
	n  store.Notice
	by time.Time
}

// NoticeLease is the claim under which an enqueuer inserts notices it hands
// to Deliver after their commit: a fresh token, for one Lease.
func (w *Worker) NoticeLease() store.NoticeLease {
	return store.NoticeLease{Token: newToken(), For: w.Lease}
}

// Deliver calls committed notices inserted under a NoticeLease taken at or
// after since, each in a slot of its DSP (at once, or when one frees up),
// and records their outcomes as a claim's. A notice that cannot start by
// since + window (see window) is left to its lease, and so is every one
// handed over once Run has stopped.
func (w *Worker) Deliver(since time.Time, ns []store.Notice) {
	if len(ns) == 0 {
		return
	}
	w.init()
	by := since.Add(w.window())
	left := 0
	var start []store.Notice
	w.mu.Lock()
	if w.stopped {
		left = len(ns)
	} else {
		touched := map[string]bool{}
		for _, n := range ns {
			if w.nqueued >= maxQueued {
				left++
				continue
			}
			w.queued[n.DSP] = append(w.queued[n.DSP], direct{n: n, by: by})
			w.nqueued++
			touched[n.DSP] = true
		}
		for dsp := range touched {
			start = append(start, w.takeQueued(dsp)...)
		}
	}
	w.mu.Unlock()
	w.leftToLease.Add(int64(left))
	w.startAll(start)
}

// startAll starts the deliveries takeQueued gave slots to.
func (w *Worker) startAll(ns []store.Notice) {
	for _, n := range ns {
		go w.deliver(context.Background(), n)
	}
}

// window is how long after its lease began a notice may still start from
// memory: its call (Timeout) and the write of its outcome (retried for up
// to Lease/2) must end within the lease, or another worker could take it
// while this one still calls.
func (w *Worker) window() time.Duration {
	return max(w.Lease/2-w.Timeout, 0)
}

// takeQueued moves the queued notices of dsp that may start into its free
// slots (w.mu held, w.wg.Add done) and drops those too late for their
// lease.
func (w *Worker) takeQueued(dsp string) []store.Notice {
	q := w.queued[dsp]
	if len(q) == 0 || w.stopped {
		return nil
	}
	now := time.Now()
	var out []store.Notice
	i := 0
	for ; i < len(q) && w.inflight[dsp] < w.limitOf(dsp); i++ {
		if !now.Before(q[i].by) {
			w.leftToLease.Add(1)
			continue
		}
		w.inflight[dsp]++
		w.wg.Add(1)
		out = append(out, q[i].n)
	}
	w.nqueued -= i
	if i == len(q) {
		delete(w.queued, dsp)
	} else {
		w.queued[dsp] = q[i:]
	}
	return out
}

// stop makes Deliver start nothing more and drops the queued notices (they
// come back when their lease passes), so that Run's wait ends.
func (w *Worker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.leftToLease.Add(int64(w.nqueued))
	w.queued, w.nqueued = map[string][]direct{}, 0
}

// LeftToLease is how many notices handed to Deliver were not called from
// memory and wait for their lease to pass (then a claim takes them).
func (w *Worker) LeftToLease() int64 { return w.leftToLease.Load() }
