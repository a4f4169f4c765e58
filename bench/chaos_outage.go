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

// overlap is how much of [start, end] the windows cover.
func (o *outages) overlap(start, end time.Time) time.Duration {
	if o == nil {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var d time.Duration
	for _, w := range o.w {
		from, to := w.from, w.to
		if to.IsZero() {
			to = end
		}
		if from.Before(start) {
			from = start
		}
		if to.After(end) {
			to = end
		}
		if to.After(from) {
			d += to.Sub(from)
		}
	}
	return d
}

// count is the number of windows and the longest one.
func (o *outages) count() (int, time.Duration) {
	if o == nil {
		return 0, 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var longest time.Duration
	for _, w := range o.w {
		longest = max(longest, w.to.Sub(w.from))
	}
	return len(o.w), longest
}

// watchStalls records in o every moment this process was not run for more
// than threshold (a ticker every 10 ms that fired late), until ctx ends. On
// a shared machine the load generator itself may be descheduled: an answer
// it reads late by no more than such a stall was not late from the bridge.
func watchStalls(done <-chan struct{}, o *outages, threshold time.Duration) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			if gap := now.Sub(last); gap > tick+threshold {
				o.mu.Lock()
				o.w = append(o.w, window{from: last.Add(tick), to: now})
				o.mu.Unlock()
			}
			last = now
		}
	}
}
