package outbox

import "github.com/adshares/dsp-bridge/store"

// Per-DSP concurrency: every free slot of a DSP is claimed at once, up to
// a bound that adapts to how the DSP answers (at most outbox.per_dsp).

// reserve takes every free slot of the given DSPs (up to each one's
// adaptive limit); batched, only of the DSPs with at least half their
// slots free (a wake-up while calls are in flight claims in batches, not
// a statement per finished call).
func (w *Worker) reserve(dsps []string, batched bool) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := map[string]int{}
	for _, d := range dsps {
		if free := w.limitOf(d) - w.inflight[d]; free > 0 && (!batched || free >= batchOf(w.limitOf(d))) {
			q[d] = free
			w.inflight[d] += free
		}
	}
	return q
}

// batchOf is how many slots of a DSP with bound limit must be free before
// a wake-up claims for it: half, so that claims come in batches.
func batchOf(limit int) int { return (limit + 1) / 2 }

// limitOf is a DSP's current concurrency bound (w.mu held).
func (w *Worker) limitOf(dsp string) int {
	if l, ok := w.limit[dsp]; ok {
		return l
	}
	return w.PerDSP
}

// adapt moves a DSP's bound: one more after a delivered notice (up to
// PerDSP), half after a failed call (down to 1), so that a DSP in trouble
// gets fewer calls at once and a healthy one all it can take.
func (w *Worker) adapt(dsp string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.limitOf(dsp)
	if ok {
		l = min(l+1, w.PerDSP)
	} else {
		l = max(l/2, 1)
	}
	w.limit[dsp] = l
}

// Limits returns every DSP's current concurrency bound (those not yet
// seen have PerDSP).
func (w *Worker) Limits() map[string]int {
	w.init()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.limit))
	for d, l := range w.limit {
		out[d] = l
	}
	return out
}

// unreserve gives reserved slots back that no claim used, first to the
// notices handed to Deliver that wait for them.
func (w *Worker) unreserve(q map[string]int) {
	var next []store.Notice
	w.mu.Lock()
	for d, n := range q {
		w.inflight[d] -= n
		if n > 0 {
			next = append(next, w.takeQueued(d)...)
		}
	}
	w.mu.Unlock()
	w.startAll(next)
}

// finished gives a call's slot back. While there is a backlog it wakes
// the claimer once a batch of the DSP's slots is free; without one, the
// next notices come with their own wake-up (or the poll).
// Notices handed to Deliver that wait for the DSP take the slot first.
func (w *Worker) finished(dsp string) {
	w.mu.Lock()
	w.inflight[dsp]--
	next := w.takeQueued(dsp)
	ready := w.backlogged[dsp] && w.limitOf(dsp)-w.inflight[dsp] >= batchOf(w.limitOf(dsp))
	w.mu.Unlock()
	w.startAll(next)
	if ready {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
