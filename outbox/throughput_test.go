package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

// A DSP that fails gets fewer calls at once (half per failure, down to
// one); once it answers again its bound grows by one per delivery, back
// to outbox.per_dsp.
func TestConcurrencyAdaptsToFailures(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	c := testclock.New(t0)
	var failing atomic.Bool
	failing.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	for i := range 40 {
		enqueue(t, st, fmt.Sprintf("a%d", i), "sim", fmt.Sprintf("%s/b%d", srv.URL, i), t0)
	}
	w := newWorker(t, st, c)
	w.PerDSP = 8
	if n, err := w.Step(ctx); n != 8 || err != nil {
		t.Fatalf("first step claimed %d, %v; want 8", n, err)
	}
	if l := w.Limits()["sim"]; l != 1 {
		t.Fatalf("after 8 failures the bound is %d, want 1", l)
	}
	failing.Store(false)
	c.Add(2 * time.Minute) // past every backoff
	var claimed []int
	for range 5 {
		n, err := w.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		claimed = append(claimed, n)
	}
	want := []int{1, 2, 4, 8, 8}
	for i := range want {
		if claimed[i] != want[i] {
			t.Fatalf("claims per step %v, want %v (one more per delivery, up to per_dsp)", claimed, want)
		}
	}
}

// Deliveries that finish together record their outcomes in one statement,
// not one per notice.
func TestOutcomesOfABurstAreWrittenTogether(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	const n = 16
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		<-all // answer all at once
	}))
	defer srv.Close()
	for i := range n {
		enqueue(t, st, fmt.Sprintf("g%d", i), "sim", fmt.Sprintf("%s/b%d", srv.URL, i), time.Now())
	}
	w := newWorker(t, st, nil)
	w.PerDSP = n
	if got, err := w.Step(ctx); got != n || err != nil {
		t.Fatalf("claimed %d, %v", got, err)
	}
	var delivered int
	st.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'delivered'`).Scan(&delivered)
	if delivered != n {
		t.Fatalf("%d delivered, want %d", delivered, n)
	}
	if f := w.Flushes(); f >= n {
		t.Fatalf("%d statements for %d outcomes that arrived together", f, n)
	} else {
		t.Logf("%d outcomes written in %d statements", n, f)
	}
}
