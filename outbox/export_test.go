package outbox

import "context"

// Flushes is how many statements wrote delivery outcomes.
func (w *Worker) Flushes() int64 { return w.flushes.Load() }

// WakeDispatch is one wake-up claim of Run's wake loop (without its gather
// delay): it starts the deliveries and returns how many it claimed.
func (w *Worker) WakeDispatch(ctx context.Context) (int, error) {
	w.init()
	return w.dispatch(ctx, false)
}

// Wait waits for the deliveries in flight and their outcomes.
func (w *Worker) Wait() { w.wg.Wait() }

// Claims is how many claim rounds reached the database.
func (w *Worker) Claims() int64 { return w.claims.Load() }

// Polls is how many times the worker asked the database which DSPs have
// pending notices.
func (w *Worker) Polls() int64 { return w.polls.Load() }

// InFlight is how many of a DSP's slots are taken.
func (w *Worker) InFlight(dsp string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inflight[dsp]
}

// PollDispatch is one claim of a poll loop: it starts the deliveries and
// returns how many it claimed.
func (w *Worker) PollDispatch(ctx context.Context) (int, error) {
	w.init()
	return w.dispatch(ctx, true)
}
