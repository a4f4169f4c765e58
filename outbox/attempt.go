package outbox

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/adshares/dsp-bridge/outbound"
	"github.com/adshares/dsp-bridge/store"
)

// One delivery: the call of a claimed notice, its outcome (delivered,
// refused, blocked, expired or retried later) and the backoff of a retry.

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
