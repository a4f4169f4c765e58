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
	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/store"
)

// enqueueLeased stores wins and their billed views in one group, with the
// notices leased to w, and returns them as Deliver takes them.
func enqueueLeased(t *testing.T, st *store.Store, lease store.NoticeLease, dsp, base string, ext ...string) []store.Notice {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var vs []store.ViewWrite
	for _, id := range ext {
		if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: "c",
			DSP: dsp, PriceMicros: 1_000_000, CreatedAt: now}}); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, store.ViewWrite{Event: store.Event{ExtID: id, CaseID: fmt.Sprintf("%032x", 1), Type: "view",
			PriceMicros: 1_000_000, RateNanos: 50_000_000, Value: 2_000_000_000, CreatedAt: now, WinAt: now},
			DSP: dsp, BURL: base + "/burl/" + id})
	}
	recs, err := st.RecordViewsLeased(ctx, vs, lease)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Notice
	for i, r := range recs {
		out = append(out, vs[i].LeasedNotices(r, lease.Token)...)
	}
	if len(out) != len(ext) {
		t.Fatalf("%d leased notices for %d views", len(out), len(ext))
	}
	return out
}

func waitDelivered(t *testing.T, st *store.Store, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := st.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE status = 'delivered'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d notices delivered", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Notices handed over from memory are delivered once, by the instance that
// enqueued them, and recorded: another instance polling the same outbox
// never takes them while their lease holds.
func TestLeasedNoticesAreDeliveredFromMemoryOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := testdb.New(t)
	dsp := newEndpoint(t)
	a, b := newWorker(t, st, nil), newWorker(t, st, nil)
	a.PerDSP = 3 // most wait in memory for a slot
	var byB atomic.Int64
	b.Observe = func(_, _, result string) {
		if result == "delivered" {
			byB.Add(1)
		}
	}
	var wg sync.WaitGroup
	for _, w := range []*outbox.Worker{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	const total = 40
	var ext []string
	for i := range total {
		ext = append(ext, fmt.Sprintf("d%d", i))
	}
	since := time.Now()
	a.Deliver(since, enqueueLeased(t, st, a.NoticeLease(), "sim", dsp.URL, ext...))
	waitDelivered(t, st, total)
	cancel()
	wg.Wait()
	calls, ok := dsp.stats()
	if calls != total || len(ok) != total {
		t.Fatalf("%d calls to %d paths, want %d each once", calls, len(ok), total)
	}
	if byB.Load() != 0 || a.LeftToLease() != 0 {
		t.Fatalf("the other instance delivered %d, %d left to the lease; want 0 and 0", byB.Load(), a.LeftToLease())
	}
	for _, id := range ext {
		if n := notice(t, st, id); n.Attempts != 1 || *n.LastStatus != 200 || n.DeliveredAt == nil {
			t.Errorf("%s: %+v", id, n)
		}
	}
}

// Notices whose instance never called them (a crash after the commit) are
// claimed by any worker once their lease passes, and not before.
func TestLeasedNoticesOfACrashedInstanceComeBackAfterTheLease(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	dsp := newEndpoint(t)
	c := testclock.New(time.Now())
	w := newWorker(t, st, c)
	enqueueLeased(t, st, store.NoticeLease{Token: "crashed", For: w.Lease}, "sim", dsp.URL, "k1", "k2")
	if n, err := w.Step(ctx); err != nil || n != 0 {
		t.Fatalf("claimed %d (%v) while the lease holds", n, err)
	}
	c.Add(w.Lease + time.Minute)
	if n, err := w.Step(ctx); err != nil || n != 2 {
		t.Fatalf("claimed %d (%v) after the lease, want 2", n, err)
	}
	if calls, ok := dsp.stats(); calls != 2 || ok["/burl/k1"] != 1 || ok["/burl/k2"] != 1 {
		t.Fatalf("calls %d, ok %v", calls, ok)
	}
	if n := notice(t, st, "k1"); n.Status != "delivered" || n.Attempts != 1 {
		t.Fatalf("k1: %+v", n)
	}
}

// A worker that has stopped calls nothing handed to it: those notices
// wait for their lease (another instance, or this one restarted).
func TestDeliverAfterStopLeavesNoticesToTheirLease(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := testdb.New(t)
	dsp := newEndpoint(t)
	w := newWorker(t, st, nil)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	cancel()
	<-done
	w.Deliver(time.Now(), enqueueLeased(t, st, w.NoticeLease(), "sim", dsp.URL, "s1"))
	if calls, _ := dsp.stats(); calls != 0 || w.LeftToLease() != 1 {
		t.Fatalf("%d calls, %d left to the lease; want 0 and 1", calls, w.LeftToLease())
	}
	if n := notice(t, st, "s1"); n.Status != "pending" || n.Attempts != 0 || !n.NextAttempt.After(time.Now()) {
		t.Fatalf("s1: %+v, want pending and leased", n)
	}
}

// A notice that cannot start within its window (its lease began too long
// ago for a call and the write of its outcome to fit) is not called from
// memory: calling it could overlap another worker's claim.
func TestLateHandOverIsLeftToTheLease(t *testing.T) {
	st := testdb.New(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	w := newWorker(t, st, nil)
	ns := enqueueLeased(t, st, w.NoticeLease(), "sim", srv.URL, "l1")
	w.Deliver(time.Now().Add(-w.Lease), ns)
	if calls.Load() != 0 || w.LeftToLease() != 1 {
		t.Fatalf("%d calls, %d left to the lease; want 0 and 1", calls.Load(), w.LeftToLease())
	}
}
