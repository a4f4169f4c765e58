package outbox

import (
	"context"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// Delivery outcomes are written in groups: one statement for every outcome
// that is ready at the same time.

// record stores an outcome and returns once it is written (or given up).
// Outcomes of deliveries that finish together are written in one
// statement (group commit): the first to arrive writes every outcome
// waiting, the others wait for it. So a burst of deliveries costs one
// commit, not one per notice.
func (w *Worker) record(ctx context.Context, o store.Outcome) {
	me := &outcome{o: o, done: make(chan struct{})}
	w.omu.Lock()
	w.outcomes = append(w.outcomes, me)
	if w.flushing {
		w.omu.Unlock()
		<-me.done
		return
	}
	w.flushing = true
	for {
		if w.calling.Load() > 0 && w.OutcomeGather > 0 {
			// Calls of the same claim are finishing now: let their
			// outcomes join this statement instead of the next.
			w.omu.Unlock()
			time.Sleep(w.OutcomeGather)
			w.omu.Lock()
		}
		batch := w.outcomes
		w.outcomes = nil
		w.omu.Unlock()
		w.flush(ctx, batch)
		w.omu.Lock()
		if len(w.outcomes) == 0 {
			w.flushing = false
			w.omu.Unlock()
			return
		}
	}
}

// flush writes a batch of outcomes, retrying while the database is
// unreachable for up to half the lease: giving up earlier would let the
// notices be claimed and delivered again.
func (w *Worker) flush(ctx context.Context, batch []*outcome) {
	defer func() {
		for _, o := range batch {
			close(o.done)
		}
	}()
	outs := make([]store.Outcome, len(batch))
	for i, o := range batch {
		outs[i] = o.o
	}
	w.flushes.Add(1)
	deadline := time.Now().Add(w.Lease / 2)
	wait := 100 * time.Millisecond
	for {
		// Bounded: a database that hangs without closing the connection must
		// not keep these DSPs' delivery slots past the lease.
		markCtx, cancel := context.WithDeadline(ctx, deadline)
		lost, err := w.Store.RecordOutcomes(markCtx, outs)
		cancel()
		if err == nil {
			if len(lost) > 0 {
				w.Log.Warn("outbox: claims expired before their outcome was recorded", "notices", len(lost), "ids", lost[:min(len(lost), 10)])
			}
			return
		}
		if time.Now().Add(wait).After(deadline) {
			w.Log.Error("outbox: outcomes not recorded; the notices come back after their lease", "notices", len(outs), "error", err)
			return
		}
		time.Sleep(wait)
		wait = min(wait*2, 2*time.Second)
	}
}
