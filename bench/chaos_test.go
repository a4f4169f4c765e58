package bench

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/outbound"
)

// The chaos run's DSPs may reach their own address and nothing else on
// loopback: a DSP redirecting to the canary, or naming it, is refused
// before any connection, while the same client still reaches the DSP. The
// bench's usual allow list (all of 127.0.0.0/8) does reach the canary,
// which shows the canary counts what reaches it.
func TestCanaryIsRefusedByTheChaosAllowList(t *testing.T) {
	can, err := startCanary()
	if err != nil {
		t.Fatal(err)
	}
	defer can.close()
	ctx := context.Background()
	strict := outbound.New(outbound.Options{Allow: []netip.Prefix{netip.MustParsePrefix(chaosAllow)}, Timeout: 5 * time.Second})
	for i := range can.urls {
		d := dspsim.New(dspsim.Options{RedirectTo: can.url(i), Fault: func(dspsim.Surface) dspsim.Fault { return dspsim.FaultRedirect }})
		defer d.Close()
		for _, u := range []string{d.URL() + "/bill?auction=a&bid=b", can.url(i) + "/direct"} {
			resp, err := strict.Get(ctx, u)
			var refused *outbound.RefusedError
			if !errors.As(err, &refused) || refused.Kind != outbound.KindLoopback {
				t.Fatalf("%s (canary %s): want a loopback refusal, got %v %v", u, can.url(i), resp, err)
			}
		}
		d.SetFault(nil)
		resp, err := strict.Get(ctx, d.URL()+"/bill?auction=a&bid=b")
		if err != nil || resp.Status != 200 {
			t.Fatalf("the DSP itself: %v %v", resp, err)
		}
	}
	if n := can.hits.Load(); n != 0 {
		t.Fatalf("the canary saw %d connection(s)", n)
	}
	loose := outbound.New(outbound.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 5 * time.Second})
	loose.Get(ctx, can.url(0)+"/direct") // the canary closes at once: an error, but a connection
	if n := can.hits.Load(); n != 1 {
		t.Fatalf("with 127.0.0.0/8 allowed the canary saw %d connection(s), want 1", n)
	}
}

func TestOutagesOverlap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var none *outages
	if none.overlaps(at(0), at(100)) {
		t.Fatal("a nil outages overlaps")
	}
	o := &outages{}
	o.begin(at(10))
	if !o.overlaps(at(20), at(21)) || !o.overlaps(at(5), at(10)) || o.overlaps(at(5), at(9.9)) {
		t.Fatal("an open window")
	}
	o.end(at(12))
	cases := []struct {
		from, to float64
		want     bool
	}{{5, 9.9, false}, {5, 10, true}, {11, 11.5, true}, {11.9, 13, true}, {12.1, 13, false}, {0, 20, true}}
	for _, c := range cases {
		if got := o.overlaps(at(c.from), at(c.to)); got != c.want {
			t.Errorf("[%v, %v]: %v, want %v", c.from, c.to, got, c.want)
		}
	}
	if d := o.total(at(50)); d != 2*time.Second {
		t.Errorf("total %s", d)
	}
	o.begin(at(20))
	o.end(at(21))
	for _, c := range []struct{ from, to, want float64 }{{0, 5, 0}, {0, 100, 3}, {11, 20.5, 1.5}, {10.5, 11, 0.5}} {
		if got := o.overlap(at(c.from), at(c.to)); got != time.Duration(c.want*float64(time.Second)) {
			t.Errorf("overlap [%v, %v]: %s, want %vs", c.from, c.to, got, c.want)
		}
	}
	if n, longest := o.count(); n != 2 || longest != 2*time.Second {
		t.Errorf("count %d, longest %s", n, longest)
	}
}

// Every kind of loss the reconciliation knows is a problem of the run.
func TestChaosReportNamesEveryLoss(t *testing.T) {
	m := &chaosRun{o: &Options{Duration: 20 * time.Second, TMax: time.Second}, e: &env{}, g: &generator{outage: &outages{}}, canary: &canary{}}
	full := map[dspsim.Surface]map[dspsim.Fault]int{}
	for _, s := range dspsim.Surfaces {
		full[s] = map[dspsim.Fault]int{}
		for _, f := range dspsim.SurfaceFaults(s) {
			full[s][f] = 1
		}
	}
	m.disruptions = []Disruption{{What: "postgres-restart"}, {What: "bridge-kill-9"}, {What: "postgres-crash"}}
	clean := m.report(&tally{Bids: 10, Wins: 5}, Books{Drained: true}, ChaosNotices{Reasons: map[string]int64{"refused: N.N.N.N is a loopback address": 3}},
		ChaosPayments{BilledViews: 2, ReportedViews: 2, BilledValue: 7, ReportedValue: 7})
	clean.Faults = full
	if p := clean.Problems; len(p) != 1 || !strings.Contains(p[0], "faults never injected") {
		t.Fatalf("clean run (no DSPs, so no faults): %q", p)
	}

	m.canary.hits.Store(1)
	m.disruptions = m.disruptions[:2]
	r := m.report(&tally{Bids: 10, BidErrors: 1, Late: 2, ViewErrors: 1, ClickErrors: 1},
		Books{WinsMissing: 1, ViewsNotBilledOnce: 1, Drained: true},
		ChaosNotices{UndeliveredNoReason: 1, Pending: 1, Missing: 1, OutboxPending: 1, Reasons: map[string]int64{"(none)": 1}},
		ChaosPayments{Unsettled: 1, Mismatched: 1, BilledValue: 7, ReportedValue: 6})
	want := []string{"canary", "/bid call(s) not answered", "later than tmax", "view(s) not answered", "click(s) not answered",
		"answered win(s) not in the database", "not billed exactly once", "notice(s) undelivered", "without a reason",
		"still pending after the drain", "without a burl", "no done payment report", "differ from their rows", "payment reports sum to",
		"2 of 3 disruptions"}
	all := strings.Join(r.Problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem mentions %q:\n%s", w, all)
		}
	}
}

// The run-queue wait of a process is readable (this one, busy for a
// moment on every thread it has) and grows; a process that is gone has none.
func TestRunqWait(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	w0, ok := runqWait(os.Getpid())
	if !ok {
		t.Skip("no schedstat on this kernel")
	}
	for i := 0; i < 3; i++ {
		runtime.Gosched()
	}
	w1, ok := runqWait(os.Getpid())
	if !ok || w1 < w0 {
		t.Fatalf("wait went from %s to %s (%v)", w0, w1, ok)
	}
	if _, ok := runqWait(1 << 30); ok {
		t.Fatal("a pid that does not exist has a wait")
	}
}
