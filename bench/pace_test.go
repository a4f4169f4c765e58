package bench

import (
	"testing"
	"time"
)

func TestScheduled(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		rate float64
		want int
	}{
		{time.Second, 1000, 1000},
		{50 * time.Millisecond, 1000, 50},
		{10 * time.Millisecond, 150, 2}, // at 0 and 6.67 ms
		{time.Second, 0, 0},
		{0, 100, 0},
	} {
		if got := scheduled(tc.d, tc.rate); got != tc.want {
			t.Errorf("scheduled(%s, %g) = %d, want %d", tc.d, tc.rate, got, tc.want)
		}
	}
}

// Every scheduled start arrives, in order, at its place in the schedule,
// however slowly the reader takes them (the schedule does not wait).
func TestPaceSendsTheWholeSchedule(t *testing.T) {
	start := time.Now()
	quit := make(chan struct{})
	defer close(quit)
	ch := pace(start, 40*time.Millisecond, 500, quit)
	k := 0
	for at := range ch {
		if want := start.Add(time.Duration(k) * 2 * time.Millisecond); !at.Equal(want) {
			t.Fatalf("start %d at %s, want %s", k, at.Sub(start), want.Sub(start))
		}
		if k == 3 {
			time.Sleep(10 * time.Millisecond) // a slow caller: the rest still come
		}
		k++
	}
	if k != 20 {
		t.Fatalf("%d starts, want 20", k)
	}
}

func TestPaceStopsOnQuit(t *testing.T) {
	quit := make(chan struct{})
	ch := pace(time.Now(), time.Hour, 1, quit)
	<-ch // the first start is at once
	close(quit)
	if _, ok := <-ch; ok {
		t.Fatal("a start after quit")
	}
}
