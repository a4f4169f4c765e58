package outbox

// Per-DSP concurrency: every free slot of a DSP is claimed at once, up to
// a bound that adapts to how the DSP answers (at most outbox.per_dsp).

// reserve takes every free slot of the given DSPs (up to each one's
// adaptive limit).
func (w *Worker) reserve(dsps []string) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := map[string]int{}
	for _, d := range dsps {
		if free := w.limitOf(d) - w.inflight[d]; free > 0 {
			q[d] = free
			w.inflight[d] += free
		}
	}
	return q
}

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
