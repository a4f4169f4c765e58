package bench

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// A shared machine can leave the bridge runnable but without a CPU: then
// an answer is late for want of a core, not because of anything the
// bridge waited for. The chaos run samples how long the bridge's threads
// spent waiting for a CPU (the second field of /proc/PID/task/*/schedstat),
// so the report says how starved the bridge was.

// runqWait is the time the threads of pid have spent runnable on a run
// queue, summed over its threads.
func runqWait(pid int) (time.Duration, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err == nil {
			total += time.Duration(ns)
		}
	}
	return total, true
}

// Starvation is how long the bridge waited for a CPU during the traffic.
type Starvation struct {
	TotalS     float64 `json:"total_s"`      // the bridge's threads waiting for a CPU, all together
	WorstMS    float64 `json:"worst_100ms"`  // the most of it within one 100 ms sample
	Over100MS  int     `json:"samples_over"` // 100 ms samples in which its threads waited 100 ms or more
	Samples    int     `json:"samples"`
	Unreadable bool    `json:"unreadable,omitempty"` // no schedstat on this system
}

// watchStarvation samples the bridge whose pid is in pid every 100 ms
// until done; a new pid (the restarted bridge) starts a new baseline.
func watchStarvation(done <-chan struct{}, pid *atomic.Int64) Starvation {
	var s Starvation
	var total time.Duration
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	cur, last := int64(0), time.Duration(0)
	for {
		select {
		case <-done:
			s.TotalS = total.Seconds()
			return s
		case <-t.C:
		}
		p := pid.Load()
		w, ok := runqWait(int(p))
		if !ok {
			if s.Samples == 0 && cur == 0 {
				s.Unreadable = true
			}
			continue
		}
		s.Unreadable = false
		if p != cur {
			cur, last = p, w
			continue
		}
		d := w - last
		last = w
		s.Samples++
		total += d
		s.WorstMS = max(s.WorstMS, ms(d))
		if d >= 100*time.Millisecond {
			s.Over100MS++
		}
	}
}
