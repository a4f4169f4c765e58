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
	// Unbuffered: while every caller is busy the send waits, and the
	// starts it then hands out still carry their scheduled times, so the
	// wait is counted all the same.
	ch := make(chan time.Time)
	go func() {
		defer close(ch)
		timer := time.NewTimer(time.Hour) // Reset before every use (Go 1.23+ timers drop a stale tick)
		defer timer.Stop()
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
