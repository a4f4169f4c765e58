package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
)

// held is a DSP endpoint whose calls wait until the test lets them go.
type held struct {
	*httptest.Server
	release chan struct{}
}

func newHeld(t *testing.T) *held {
	h := &held{release: make(chan struct{}, 1000)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-h.release }))
	t.Cleanup(func() { close(h.release); h.Close() })
	return h
}

// waitFor spins (no timing assumed: the test's own timeout bounds it)
// until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A wake-up claims for the configured DSPs without asking the database
// which have pending notices, and without a Wake (no new notice) and no
// backlog it does not reach the database at all.
func TestWakeUpClaimsWithoutPolling(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	d := newEndpoint(t)
	w := newWorker(t, st, nil)
	if n, err := w.WakeDispatch(ctx); n != 0 || err != nil || w.Claims() != 0 {
		t.Fatalf("an idle wake-up claimed %d (%v) in %d rounds, want no round", n, err, w.Claims())
	}
	for i := range 5 {
		enqueue(t, st, fmt.Sprintf("w%d", i), "sim", fmt.Sprintf("%s/burl/w%d", d.URL, i), time.Now())
	}
	w.Wake()
	n, err := w.WakeDispatch(ctx)
	w.Wait()
	if n != 5 || err != nil {
		t.Fatalf("wake-up claimed %d, %v; want 5", n, err)
	}
	if w.Polls() != 0 || w.Claims() != 1 {
		t.Fatalf("%d polls and %d claim rounds, want 0 and 1", w.Polls(), w.Claims())
	}
	if _, ok := d.stats(); len(ok) != 5 {
		t.Fatalf("delivered %v", ok)
	}
	for i := range 5 {
		if n := notice(t, st, fmt.Sprintf("w%d", i)); n.Status != "delivered" || n.Attempts != 1 {
			t.Fatalf("notice %d: %+v", i, n)
		}
	}
	// Delivered everything it claimed, below its quota: no backlog, so
	// the next wake-up without Wake does not claim.
	if n, _ := w.WakeDispatch(ctx); n != 0 || w.Claims() != 1 {
		t.Fatalf("after the backlog drained a wake-up claimed %d in round %d", n, w.Claims())
	}
}

// A DSP not configured is found by the poll; wake-ups then claim for it too.
func TestWakeUpClaimsForDSPsThePollFound(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	d := newEndpoint(t)
	w := newWorker(t, st, nil)
	// The strict policy would refuse loopback: mark it blocked, which is
	// still an outcome of a claim (what this test looks at).
	enqueue(t, st, "u0", "unlisted", d.URL+"/burl/u0", time.Now())
	w.Wake()
	if n, _ := w.WakeDispatch(ctx); n != 0 {
		t.Fatalf("a wake-up claimed %d for a DSP nobody knows of yet", n)
	}
	if n, err := w.Step(ctx); n != 1 || err != nil {
		t.Fatalf("poll claimed %d, %v", n, err)
	}
	enqueue(t, st, "u1", "unlisted", d.URL+"/burl/u1", time.Now())
	w.Wake()
	n, err := w.WakeDispatch(ctx)
	w.Wait()
	if n != 1 || err != nil {
		t.Fatalf("wake-up after the poll claimed %d, %v; want 1", n, err)
	}
	if got := notice(t, st, "u1"); got.Status != "undelivered" || got.LastError == "" {
		t.Fatalf("notice of the unlisted DSP: %+v", got)
	}
}

// While a DSP has a backlog, a wake-up claims only once half its slots are
// free, in one batch; the poll takes any free slot.
func TestBackloggedDSPIsClaimedInBatches(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	h := newHeld(t)
	for i := range 30 {
		enqueue(t, st, fmt.Sprintf("k%d", i), "sim", fmt.Sprintf("%s/b%d", h.URL, i), time.Now())
	}
	w := newWorker(t, st, nil)
	w.PerDSP = 8
	w.Wake()
	if n, err := w.WakeDispatch(ctx); n != 8 || err != nil {
		t.Fatalf("first claim %d, %v; want 8", n, err)
	}
	finish := func(k, left int) {
		for range k {
			h.release <- struct{}{}
		}
		waitFor(t, fmt.Sprintf("%d calls in flight", left), func() bool { return w.InFlight("sim") == left })
	}
	finish(3, 5)
	if n, _ := w.WakeDispatch(ctx); n != 0 {
		t.Fatalf("claimed %d with 3 of 8 slots free, want a batch of at least 4", n)
	}
	finish(1, 4)
	if n, err := w.WakeDispatch(ctx); n != 4 || err != nil {
		t.Fatalf("claimed %d, %v with 4 of 8 slots free; want 4", n, err)
	}
	finish(1, 7)
	// The poll takes the one free slot (a slow DSP keeps every slot busy).
	if n, err := w.PollDispatch(ctx); n != 1 || err != nil {
		t.Fatalf("poll claimed %d, %v; want 1", n, err)
	}
	finish(8, 0)
	w.Wait()
	var delivered int
	st.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'delivered' AND attempts = 1`).Scan(&delivered)
	if delivered != 13 {
		t.Fatalf("%d delivered, want the 13 claimed", delivered)
	}
}

// In Run, a Wake gets new notices delivered without waiting for the poll,
// and without asking the database which DSPs have pending notices.
func TestRunDeliversOnWakeWithoutPolling(t *testing.T) {
	st := testdb.New(t)
	d := newEndpoint(t)
	w := newWorker(t, st, nil)
	w.Poll = time.Hour // only the first poll, at start
	w.Loops = 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first poll", func() bool { return w.Polls() == 1 })
	for i := range 3 {
		enqueue(t, st, fmt.Sprintf("r%d", i), "sim", fmt.Sprintf("%s/burl/r%d", d.URL, i), time.Now())
	}
	w.Wake()
	waitFor(t, "3 notices delivered", func() bool {
		var n int
		st.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'delivered'`).Scan(&n)
		return n == 3
	})
	if p := w.Polls(); p != 1 {
		t.Fatalf("%d polls, want only the one at start", p)
	}
	if _, ok := d.stats(); len(ok) != 3 {
		t.Fatalf("delivered %v", ok)
	}
}
