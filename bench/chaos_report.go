package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
)

// ChaosReport is a chaos run's result, printed as a table (WriteTable) or
// as JSON (the same fields).
type ChaosReport struct {
	Command     string                                  `json:"command"`
	DurationS   float64                                 `json:"duration_s"`
	TrafficS    float64                                 `json:"traffic_s"` // the duration, or longer if a disruption took longer to recover
	Concurrency int                                     `json:"concurrency"`
	TMaxMS      float64                                 `json:"tmax_ms"`
	FaultRate   float64                                 `json:"fault_rate"`
	Seed        uint64                                  `json:"seed"`
	PostgreSQL  map[string]string                       `json:"postgresql"`
	Bids        ChaosBids                               `json:"bids"`
	Views       ChaosEvents                             `json:"views"`
	Clicks      ChaosEvents                             `json:"clicks"`
	Books       Books                                   `json:"books"`
	BURLs       ChaosNotices                            `json:"burls"`
	Payments    ChaosPayments                           `json:"payments"`
	Faults      map[dspsim.Surface]map[dspsim.Fault]int `json:"faults"` // injected, all DSPs together
	Disruptions []Disruption                            `json:"disruptions"`
	BridgeDownS float64                                 `json:"bridge_down_s"`   // from the kill until the new process was ready
	Starvation  Starvation                              `json:"bridge_cpu_wait"` // the bridge runnable, waiting for a CPU
	CanaryHits  int64                                   `json:"canary_hits"`
	CanaryURLs  []string                                `json:"canary_urls"`
	Problems    []string                                `json:"problems"`
	OK          bool                                    `json:"ok"`
	Dir         string                                  `json:"dir,omitempty"` // logs and config, kept when the run failed
}

// ChaosBids is what became of the /bid calls.
type ChaosBids struct {
	Calls            int64 `json:"calls"`
	Answered         int64 `json:"answered"` // 200 with an answer the AdServer accepts
	Wins             int64 `json:"wins"`
	NoBids           int64 `json:"no_bids"`
	Late             int64 `json:"late"`   // answered later than tmax + 10 ms, the bridge up
	Errors           int64 `json:"errors"` // not answered (or answered wrong) while the bridge was up
	RefusedWhileDown int64 `json:"refused_while_down"`
	CutWhileDown     int64 `json:"cut_while_down"`  // in flight at the kill, or failed while the new process started
	LateWhileDown    int64 `json:"late_while_down"` // answered, but late, around the kill
	// LateStalled were late by no more than the bench process itself was
	// not run during the call (a shared machine's CPU Starvation, which
	// also delays reading the answer): reported, not a problem.
	LateStalled int64   `json:"late_stalled"`
	Stalls      int     `json:"bench_stalls"`       // moments the bench process was not run for > 50 ms
	LongestMS   float64 `json:"bench_stall_max_ms"` // the longest of them
	Latency     Latency `json:"latency_ms"`
}

// ChaosEvents is what became of the views or the clicks.
type ChaosEvents struct {
	Calls     int64 `json:"calls"`
	Answered  int64 `json:"answered"` // views: 204; clicks: 200 or 204
	Errors    int64 `json:"errors"`   // not answered while the bridge was up
	WhileDown int64 `json:"while_down"`
}

// report assembles the result and lists every problem.
func (m *chaosRun) report(t *tally, books Books, n ChaosNotices, p ChaosPayments) ChaosReport {
	o := m.o
	r := ChaosReport{
		DurationS: o.Duration.Seconds(), TrafficS: m.trafficS, Concurrency: o.Concurrency, TMaxMS: ms(o.TMax), FaultRate: o.FaultRate, Seed: o.Seed,
		PostgreSQL: m.e.durability, BURLs: n, Payments: p, Faults: m.e.faultTotals(),
		BridgeDownS: m.g.outage.total(time.Now()).Seconds(), CanaryHits: m.canary.hits.Load(), CanaryURLs: m.canary.urls,
		Bids: ChaosBids{Calls: t.Bids, Answered: t.Bids - t.BidErrors - t.BidOutage, Wins: t.Wins, NoBids: t.NoBids, Late: t.Late,
			Errors: t.BidErrors, RefusedWhileDown: t.BidRefused, CutWhileDown: t.BidOutage - t.BidRefused, LateWhileDown: t.LateOutage,
			LateStalled: t.LateStalled, Latency: latencyOf(&t.Bid)},
		Views:  ChaosEvents{Calls: t.Views + t.ViewErrors + t.ViewOutage, Answered: t.Views, Errors: t.ViewErrors, WhileDown: t.ViewOutage},
		Clicks: ChaosEvents{Calls: t.Clicks + t.ClickErrors + t.ClickOutage, Answered: t.Clicks, Errors: t.ClickErrors, WhileDown: t.ClickOutage},
	}
	r.Starvation = m.starved
	var longest time.Duration
	r.Bids.Stalls, longest = m.g.stalls.count()
	r.Bids.LongestMS = ms(longest)
	m.mu.Lock()
	r.Disruptions = append([]Disruption(nil), m.disruptions...)
	m.mu.Unlock()

	var problems []string
	add := func(v int64, format string) {
		if v > 0 {
			problems = append(problems, fmt.Sprintf(format, v))
		}
	}
	add(r.CanaryHits, "%d connection(s) reached the canary: the bridge fetched a refused address")
	add(r.Bids.Errors, "%d /bid call(s) not answered, or answered wrong, while the bridge was up (first: "+t.FirstError+")")
	add(r.Bids.Late, fmt.Sprintf("%%d /bid answer(s) later than tmax + 10 ms (%s) while the bridge was up", o.TMax))
	add(r.Views.Errors, "%d view(s) not answered 204 while the bridge was up")
	add(r.Clicks.Errors, "%d click(s) not answered while the bridge was up")
	// In a chaos run a notice given up with a reason (a redirect into a
	// refused network) is the expected end of a hostile URL; the books
	// count as lost only those given up without one.
	books.NoticesUndelivered = 0
	for reason, v := range n.Reasons {
		if reason == "(none)" {
			books.NoticesUndelivered += v
		}
	}
	books.Problems = books.problems()
	books.OK = len(books.Problems) == 0
	r.Books = books
	problems = append(problems, books.Problems...)
	problems = append(problems, n.problems()...)
	problems = append(problems, p.problems()...)
	for _, d := range r.Disruptions {
		if d.Error != "" {
			problems = append(problems, d.What+" failed: "+d.Error)
		}
	}
	if len(r.Disruptions) != len(chaosPlan) {
		problems = append(problems, fmt.Sprintf("%d of %d disruptions happened", len(r.Disruptions), len(chaosPlan)))
	}
	if miss := missingFaults(r.Faults); len(miss) > 0 {
		problems = append(problems, "faults never injected (a longer --duration or a higher --fault-rate): "+strings.Join(miss, " "))
	}
	r.Problems = problems
	return r
}

// WriteTable prints the report for people.
func (r *ChaosReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "bridge bench --chaos: %s of mixed traffic, concurrency %d, tmax %s, %.0f%% of DSP requests faulty per surface, seed %d\n",
		fmtSeconds(max(r.DurationS, r.TrafficS)), r.Concurrency, fmtMS(r.TMaxMS), 100*r.FaultRate, r.Seed)
	fmt.Fprintf(w, "  PostgreSQL fsync=%s synchronous_commit=%s\n", r.PostgreSQL["fsync"], r.PostgreSQL["synchronous_commit"])
	if r.Command != "" {
		fmt.Fprintf(w, "  $ %s\n", r.Command)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(label, value, detail string) { fmt.Fprintf(tw, "  %s\t%s\t%s\n", label, value, detail) }
	b := r.Bids
	row("/bid calls", fmt.Sprint(b.Calls), fmt.Sprintf("answered %d (%d wins, %d no-bids), errors %d", b.Answered, b.Wins, b.NoBids, b.Errors))
	row("/bid late (> tmax+10ms)", fmt.Sprint(b.Late), fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms", b.Latency.P50MS, b.Latency.P99MS, b.Latency.P999MS, b.Latency.MaxMS))
	row("/bid late, the bench stalled", fmt.Sprint(b.LateStalled), fmt.Sprintf("late by no more than the load generator itself was not run (%d stalls > 50 ms, longest %.0f ms)", b.Stalls, b.LongestMS))
	if st := r.Starvation; !st.Unreadable {
		row("bridge waiting for a CPU", fmt.Sprintf("%.1fs", st.TotalS), fmt.Sprintf("its threads runnable but not run, all together; worst 100 ms sample %.0f ms, %d of %d samples >= 100 ms", st.WorstMS, st.Over100MS, st.Samples))
	}
	row("/bid while the bridge was down", fmt.Sprint(b.RefusedWhileDown+b.CutWhileDown), fmt.Sprintf("connection refused %d, cut or failed %d, late %d (%.1fs down; never counted as answered)", b.RefusedWhileDown, b.CutWhileDown, b.LateWhileDown, r.BridgeDownS))
	bk := r.Books
	row("wins answered / stored", fmt.Sprintf("%d / %d", bk.WinsAnswered, bk.WinsStored), fmt.Sprintf("missing %d, answered twice %d", bk.WinsMissing, bk.WinsDuplicated))
	row("views answered 204", fmt.Sprint(r.Views.Answered), fmt.Sprintf("not stored %d, not billed exactly once %d, errors %d, while down %d", bk.ViewsMissing, bk.ViewsNotBilledOnce, r.Views.Errors, r.Views.WhileDown))
	row("clicks answered", fmt.Sprint(r.Clicks.Answered), fmt.Sprintf("not stored %d, errors %d, while down %d", bk.ClicksMissing, r.Clicks.Errors, r.Clicks.WhileDown))
	n := r.BURLs
	row("burls of billed views", fmt.Sprint(n.Delivered+n.UndeliveredWithReason+n.UndeliveredNoReason+n.Pending),
		fmt.Sprintf("delivered %d, undelivered with a reason %d, without %d, pending after the drain %d, missing %d", n.Delivered, n.UndeliveredWithReason, n.UndeliveredNoReason, n.Pending, n.Missing))
	row("burls delivered, never received", fmt.Sprint(bk.BillsNotReceived), "delivered per the database, missing from the DSPs' own logs of /bill")
	row("outbox pending after the drain", fmt.Sprint(n.OutboxPending), "every kind: nurl, burl, imp")
	p := r.Payments
	row("payment reports", fmt.Sprint(p.Reports), fmt.Sprintf("%d clicks over %d views; billed %d clicks over %d views; unsettled %d, mismatched %d", p.ReportedValue, p.ReportedViews, p.BilledValue, p.BilledViews, p.Unsettled, p.Mismatched))
	row("canary hits", fmt.Sprint(r.CanaryHits), strings.Join(r.CanaryURLs, " ")+" (refused by the outbound policy: must be 0)")
	for _, s := range dspsim.Surfaces {
		total := 0
		for _, v := range r.Faults[s] {
			total += v
		}
		row("faults on "+string(s), fmt.Sprint(total), faultCells(r.Faults, s))
	}
	for _, d := range r.Disruptions {
		row(d.What, fmt.Sprintf("at %.1fs", d.AtS), strings.TrimSpace(fmt.Sprintf("down %.0f ms %s", d.DownMS, d.Error)))
	}
	tw.Flush()
	if len(n.Reasons) > 0 {
		fmt.Fprintln(w, "\nnotices given up, by reason:")
		var reasons []string
		for k := range n.Reasons {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Fprintf(w, "  %6d  %s\n", n.Reasons[k], k)
		}
	}
	fmt.Fprintln(w)
	if r.OK {
		fmt.Fprintln(w, "chaos: OK (nothing lost, every /bid answered in time, no request on a refused address)")
		return
	}
	fmt.Fprintf(w, "chaos: FAILED, %d problem(s):\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  - "+p)
	}
	if r.Dir != "" {
		fmt.Fprintln(w, "logs and config kept in "+r.Dir)
	}
}
