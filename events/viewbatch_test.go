package events_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/adshares/dsp-bridge/internal/testdb"
)

// Many concurrent views of many wins, each win viewed under several cases
// and each case twice: every view is answered 204, and each win is billed
// once with one burl, as if they had come one by one.
func TestConcurrentViewsShareCommitsAndBillOnce(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	const wins, cases = 30, 3
	for w := range wins {
		e.win(t, fmt.Sprintf("cv%d", w), "")
	}
	var billed atomic.Int64
	e.mod.ObserveBilled = func(dsp string, price, clicks int64) { billed.Add(1) }
	var wg sync.WaitGroup
	codes := make(chan int, wins*cases*2)
	for w := range wins {
		for c := range cases {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _ := e.get(t, "/view", fmt.Sprintf("cv%d", w), cid(c))
					codes <- code
				}()
			}
		}
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 204 {
			t.Fatalf("view = %d, want 204", code)
		}
	}
	if n := e.count(t, "SELECT count(*) FROM events WHERE ext_id LIKE 'cv%'"); n != wins*cases {
		t.Errorf("%d events, want %d (one per win and case)", n, wins*cases)
	}
	if n := e.count(t, "SELECT count(DISTINCT ext_id) FROM events WHERE ext_id LIKE 'cv%' AND value > 0 AND unbilled_reason = ''"); n != wins {
		t.Errorf("%d wins billed, want %d", n, wins)
	}
	if n := e.count(t, "SELECT count(*) FROM events WHERE ext_id LIKE 'cv%' AND value > 0"); n != wins {
		t.Errorf("%d billed views, want %d", n, wins)
	}
	if n := e.count(t, "SELECT count(*) FROM outbox WHERE ext_id LIKE 'cv%' AND kind = 'burl'"); n != wins {
		t.Errorf("%d burls, want %d", n, wins)
	}
	if billed.Load() != wins {
		t.Errorf("ObserveBilled called %d times, want %d", billed.Load(), wins)
	}
}

// Close commits what is queued; a view after it is still stored, one by
// one, and answered 204.
func TestViewAfterCloseIsStillStored(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.win(t, "ac1", "")
	e.mod.Close()
	if code, _ := e.get(t, "/view", "ac1", cid(1)); code != 204 {
		t.Fatalf("view after Close = %d, want 204", code)
	}
	if evs, err := e.st.EventsOf(context.Background(), "ac1"); err != nil || len(evs) != 1 || evs[0].Value == 0 {
		t.Fatalf("events = %+v %v", evs, err)
	}
}
