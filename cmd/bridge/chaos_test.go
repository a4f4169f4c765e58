package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/bench"
	"github.com/adshares/dsp-bridge/dspsim"
)

// A short chaos soak (`make soak` runs the long one): every fault on every
// surface at least once, PostgreSQL restarted and crashed, the bridge
// killed with -9 and restarted, under mixed traffic. Nothing the bridge
// said yes to is lost, the canary is never reached, the payment reports add
// up to what was billed. Lateness is a speed figure (on a loaded machine,
// with this race-enabled binary as the bridge, an answer may miss
// tmax + 10 ms): the soak fails on it, this test only reports it.
func TestChaosSoakLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a 20 s chaos run")
	}
	code, out, errs := benchRun(t, "--chaos", "--duration", "20s", "--concurrency", "4", "--fault-rate", "0.25",
		"--view-fraction", "0.5", "--click-fraction", "0.3", "--json")
	var r bench.ChaosReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", code, err, out, errs)
	}
	var others []string
	for _, p := range r.Problems {
		if !strings.Contains(p, "later than tmax") {
			others = append(others, p)
		}
	}
	if len(others) > 0 || (code != 0 && r.Bids.Late == 0) {
		t.Fatalf("exit %d, problems %q\n%s", code, r.Problems, errs)
	}
	t.Logf("%d /bid calls, %d answered (%d late), %d wins, %d views, %d clicks, %d burls delivered, %d given up with a reason; bridge down %.1fs",
		r.Bids.Calls, r.Bids.Answered, r.Bids.Late, r.Books.WinsAnswered, r.Views.Answered, r.Clicks.Answered, r.BURLs.Delivered, r.BURLs.UndeliveredWithReason, r.BridgeDownS)

	// What the problems above already cover, asserted on the figures too.
	b := r.Books
	switch {
	case r.CanaryHits != 0:
		t.Errorf("canary hits %d", r.CanaryHits)
	case b.WinsAnswered == 0 || b.WinsMissing != 0 || b.WinsStored < b.WinsAnswered:
		t.Errorf("wins: %+v", b)
	case r.Views.Answered == 0 || b.ViewsMissing != 0 || b.ViewsNotBilledOnce != 0 || b.ClicksMissing != 0:
		t.Errorf("views and clicks: %+v", b)
	case r.BURLs.Delivered == 0 || r.BURLs.UndeliveredNoReason != 0 || r.BURLs.Pending != 0 || r.BURLs.Missing != 0 || b.BillsNotReceived != 0:
		t.Errorf("burls: %+v, %d not received", r.BURLs, b.BillsNotReceived)
	case r.Payments.Reports == 0 || r.Payments.ReportedValue != r.Payments.BilledValue || r.Payments.BilledViews < r.Views.Answered:
		t.Errorf("payments: %+v (views answered %d)", r.Payments, r.Views.Answered)
	case r.Bids.Answered+r.Bids.Errors+r.Bids.RefusedWhileDown+r.Bids.CutWhileDown != r.Bids.Calls:
		t.Errorf("/bid calls do not add up: %+v", r.Bids)
	case r.BridgeDownS <= 0 || r.Bids.RefusedWhileDown == 0:
		t.Errorf("the kill left no trace: down %.1fs, %+v", r.BridgeDownS, r.Bids)
	}
	for _, d := range r.Disruptions {
		if d.Error != "" {
			t.Errorf("%s: %s", d.What, d.Error)
		}
	}
	for _, s := range dspsim.Surfaces {
		for _, f := range dspsim.SurfaceFaults(s) {
			if r.Faults[s][f] == 0 {
				t.Errorf("fault %s/%s never injected: %v", s, f, r.Faults)
			}
		}
	}
}

// A chaos run too short to fit its disruptions, or with a fault rate out of
// range, is a usage error.
func TestChaosOptionsAreChecked(t *testing.T) {
	for _, args := range [][]string{{"--chaos", "--duration", "5s"}, {"--chaos", "--fault-rate", "0.9"}} {
		code, out, errs := benchRun(t, args...)
		if code != 2 || !strings.Contains(errs, "--chaos --duration 5s") && !strings.Contains(errs, "--fault-rate 0.9") {
			t.Errorf("%v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
}
