package bench

import (
	"sync"
	"time"
)

// outages are the windows in which a chaos run had the bridge down on
// purpose (from its kill until the new process was ready). A call that
// failed overlapping one is counted apart: it was never answered, and it
// is not the bridge failing a caller.
type outages struct {
	mu sync.Mutex
	w  []window
}

// window is one outage; to is zero while it lasts.
type window struct{ from, to time.Time }

// begin opens a window at t.
func (o *outages) begin(t time.Time) {
	o.mu.Lock()
	o.w = append(o.w, window{from: t})
	o.mu.Unlock()
}

// end closes the open window at t.
func (o *outages) end(t time.Time) {
	o.mu.Lock()
	if n := len(o.w); n > 0 && o.w[n-1].to.IsZero() {
		o.w[n-1].to = t
	}
	o.mu.Unlock()
}

// overlaps reports whether [start, end] meets an outage. A nil *outages
// has none.
func (o *outages) overlaps(start, end time.Time) bool {
	if o == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range o.w {
		if !end.Before(w.from) && (w.to.IsZero() || !start.After(w.to)) {
			return true
		}
	}
	return false
}

// total is how long the bridge was down, open windows counted up to now.
func (o *outages) total(now time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	var d time.Duration
	for _, w := range o.w {
		to := w.to
		if to.IsZero() {
			to = now
		}
		d += to.Sub(w.from)
	}
	return d
}
