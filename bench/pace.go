package bench

import (
	"math"
	"time"
)

// This file is the open-loop mode (--rate): calls are started on a fixed
// schedule, whatever the answers take, as an AdServer's visitors arrive.

// scheduled is how many calls a schedule of rate per second starts in d:
// one at every k/rate for k/rate < d.
func scheduled(d time.Duration, rate float64) int {
	if rate <= 0 || d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds() * rate))
}

// pace sends the scheduled start of each call, rate per second from start
// for d, then closes the channel; it stops early once quit closes. Callers
// take the next start when free, and a call's latency counts from its
// scheduled start: a stall of the system under test shows up in every call
// that waited for it, instead of being hidden by callers that stopped
// sending (coordinated omission).
func pace(start time.Time, d time.Duration, rate float64, quit <-chan struct{}) <-chan time.Time {
	n := scheduled(d, rate)
	// Room for a second of calls: the schedule runs ahead of busy callers
	// without waiting for them.
	ch := make(chan time.Time, max(1, min(n, int(rate)+1, 1<<16)))
	go func() {
		defer close(ch)
		timer := time.NewTimer(0)
		defer timer.Stop()
		<-timer.C
		for k := range n {
			at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if wait := time.Until(at); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-quit:
					return
				}
			}
			select {
			case ch <- at:
			case <-quit:
				return
			}
		}
	}()
	return ch
}
