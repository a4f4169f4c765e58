package bench

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Report is a run's result: one row per system under the same load, the
// bridge/floor ratios, the bridge's memory and the books check. It is
// printed as a table (WriteTable) or as JSON (the same fields).
type Report struct {
	Command       string            `json:"command"`
	Mode          Mode              `json:"mode"`
	Unit          string            `json:"unit"` // what CPU is counted per: "auction" or "view"
	DSPs          int               `json:"dsps"`
	HungDSP       bool              `json:"hung_dsp"`
	Slots         string            `json:"slots"`
	Concurrency   int               `json:"concurrency"`
	Rate          float64           `json:"rate,omitempty"` // open loop: calls started per second (absent: closed loop)
	DurationS     float64           `json:"duration_s"`     // measured per system, over all rounds
	Rounds        int               `json:"rounds"`
	TMaxMS        float64           `json:"tmax_ms"`
	DSPLatencyMS  float64           `json:"dsp_latency_ms"`
	ViewFraction  float64           `json:"view_fraction"`
	ClickFraction float64           `json:"click_fraction"`
	NoBURL        bool              `json:"no_burl"` // bids carried no burl: views cost no notice delivery
	PostgreSQL    map[string]string `json:"postgresql"`
	Systems       []SystemResult    `json:"systems"`
	Ratios        *Ratios           `json:"ratios,omitempty"` // bridge / floor; nil without a floor
	BridgeRSSMB   RSSRange          `json:"bridge_rss_mb"`
	Books         Books             `json:"books"`
	Problems      []string          `json:"problems"` // the books' and any other (a process that died)
	OK            bool              `json:"ok"`
	Dir           string            `json:"dir,omitempty"` // logs and config, kept when the run failed
}

// SystemResult is what one system did under the load, all rounds together.
type SystemResult struct {
	System      System  `json:"system"`
	ElapsedS    float64 `json:"elapsed_s"`
	Auctions    int64   `json:"auctions"`
	AuctionsPS  float64 `json:"auctions_per_s"`
	Slots       int64   `json:"slots"`
	Wins        int64   `json:"wins"`
	WinsPS      float64 `json:"wins_per_s"`
	Views       int64   `json:"views"`
	ViewsPS     float64 `json:"views_per_s"`
	Clicks      int64   `json:"clicks"`
	Errors      int64   `json:"errors"`
	BidErrors   int64   `json:"bid_errors"`
	ViewErrors  int64   `json:"view_errors"`
	ClickErrors int64   `json:"click_errors"`
	NoBids      int64   `json:"no_bids"`
	Late        int64   `json:"late"` // /bid answers later than tmax + 10 ms
	Bid         Latency `json:"bid_ms"`
	View        Latency `json:"view_ms"`
	// CPU per auction (views mode: per view), in µs: the server process
	// (bridge or proxy), PostgreSQL (all its processes), and the bench
	// process itself (load generator and simulated DSPs).
	CPUServerUS   *float64 `json:"cpu_server_us"`
	CPUPostgresUS *float64 `json:"cpu_postgres_us"`
	CPUBenchUS    float64  `json:"cpu_bench_us"`
	// StealMSPerS is the machine's steal time while this system ran: the
	// hypervisor keeping runnable virtual CPUs waiting (ms per second).
	StealMSPerS   float64   `json:"host_steal_ms_per_s"`
	RoundRates    []float64 `json:"round_rates"` // per round, auctions/s (views/s in views mode)
	PoolExhausted bool      `json:"pool_exhausted,omitempty"`
	FirstError    string    `json:"first_error,omitempty"`
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	N      uint64  `json:"n"`
	P50MS  float64 `json:"p50"`
	P99MS  float64 `json:"p99"`
	P999MS float64 `json:"p999"`
	MaxMS  float64 `json:"max"`
}

func latencyOf(h *Histogram) Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{N: h.Count(), P50MS: ms(h.Quantile(0.5)), P99MS: ms(h.Quantile(0.99)), P999MS: ms(h.Quantile(0.999)), MaxMS: ms(h.Max())}
}

// Ratios compare the bridge with the floor measured in the same run.
type Ratios struct {
	Rate       float64   `json:"rate"`        // bridge ops/s ÷ floor ops/s
	RoundRates []float64 `json:"round_rates"` // the same, round by round
	P50        float64   `json:"p50"`         // /bid (views mode: /view) latency
	P99        float64   `json:"p99"`
	CPU        float64   `json:"cpu"`         // bridge process ÷ proxy process, per op
	CPUWithDB  float64   `json:"cpu_with_db"` // (bridge + PostgreSQL) ÷ proxy, per op
}

// RSSRange is the bridge's resident memory at start, at most and at the end.
type RSSRange struct {
	Start float64 `json:"start"`
	Max   float64 `json:"max"`
	End   float64 `json:"end"`
}

func (r *Report) system(s System) *SystemResult {
	for i := range r.Systems {
		if r.Systems[i].System == s {
			return &r.Systems[i]
		}
	}
	return nil
}

// WriteTable prints the report for people: the rows that apply to the
// mode, one column per system and the bridge/floor ratio.
func (r *Report) WriteTable(w io.Writer) {
	hung := ""
	if r.HungDSP {
		hung = " + 1 hung"
	}
	slots := r.Slots + " slot(s) per /bid"
	if r.Mode == ModeViews {
		slots = fmt.Sprintf("views of distinct wins (made first by unmeasured /bid calls of %d slots)", MaxSlots)
	}
	load := fmt.Sprintf("concurrency %d", r.Concurrency)
	if r.Rate > 0 {
		load = fmt.Sprintf("open loop at %g calls/s (at most %d in flight)", r.Rate, r.Concurrency)
	}
	fmt.Fprintf(w, "bridge bench: mode %s, %d DSP(s)%s, %s, %s, %s measured per system in %d round(s), tmax %s, DSP latency %s\n",
		r.Mode, r.DSPs, hung, slots, load, fmtSeconds(r.DurationS), r.Rounds, fmtMS(r.TMaxMS), fmtMS(r.DSPLatencyMS))
	if r.Mode == ModeMixed {
		fmt.Fprintf(w, "  %.0f%% of wins viewed, %.0f%% of views clicked\n", 100*r.ViewFraction, 100*r.ClickFraction)
	}
	if r.NoBURL {
		fmt.Fprintf(w, "  the DSPs' bids carry no burl: views enqueue and deliver no notice\n")
	}
	fmt.Fprintf(w, "  PostgreSQL fsync=%s synchronous_commit=%s: every win and view is durable before it is answered\n",
		r.PostgreSQL["fsync"], r.PostgreSQL["synchronous_commit"])
	if r.Command != "" {
		fmt.Fprintf(w, "  $ %s\n", r.Command)
	}
	fmt.Fprintln(w)

	views := r.Mode == ModeViews
	bids := !views
	rt := r.Ratios
	if rt == nil {
		rt = &Ratios{}
	}
	ratio := func(v float64) string {
		if v == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f", v)
	}
	num := func(format string, v float64) string { return fmt.Sprintf(format, v) }
	dash := func(ok bool, s string) string {
		if !ok {
			return "-"
		}
		return s
	}
	type line struct {
		show  bool
		label string
		cell  func(s *SystemResult) string
		ratio string
	}
	lat := func(l func(s *SystemResult) Latency, q func(Latency) float64) func(s *SystemResult) string {
		return func(s *SystemResult) string { return dash(l(s).N > 0, num("%.2f", q(l(s)))) }
	}
	bid := func(s *SystemResult) Latency { return s.Bid }
	view := func(s *SystemResult) Latency { return s.View }
	us := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return num("%.0f", *v)
	}
	isBridge := func(s *SystemResult) bool { return s.System == Bridge }
	hasViews := r.Mode != ModeAuction
	lines := []line{
		{bids, "auctions/s", func(s *SystemResult) string { return num("%.0f", s.AuctionsPS) }, ratio(rt.Rate)},
		{bids, "wins/s", func(s *SystemResult) string { return dash(isBridge(s), num("%.0f", s.WinsPS)) }, ""},
		{hasViews, "views/s", func(s *SystemResult) string { return dash(s.View.N > 0, num("%.0f", s.ViewsPS)) }, map[bool]string{true: ratio(rt.Rate)}[views]},
		{true, "errors", func(s *SystemResult) string { return fmt.Sprint(s.Errors) }, ""},
		{bids, "no-bids", func(s *SystemResult) string { return dash(isBridge(s), fmt.Sprint(s.NoBids)) }, ""},
		{bids, "late (> tmax+10ms)", func(s *SystemResult) string { return fmt.Sprint(s.Late) }, ""},
		{bids, "/bid p50 ms", lat(bid, func(l Latency) float64 { return l.P50MS }), map[bool]string{true: ratio(rt.P50)}[bids]},
		{bids, "/bid p99 ms", lat(bid, func(l Latency) float64 { return l.P99MS }), map[bool]string{true: ratio(rt.P99)}[bids]},
		{bids, "/bid p99.9 ms", lat(bid, func(l Latency) float64 { return l.P999MS }), ""},
		{hasViews, "/view p50 ms", lat(view, func(l Latency) float64 { return l.P50MS }), map[bool]string{true: ratio(rt.P50)}[views]},
		{hasViews, "/view p99 ms", lat(view, func(l Latency) float64 { return l.P99MS }), map[bool]string{true: ratio(rt.P99)}[views]},
		{hasViews, "/view p99.9 ms", lat(view, func(l Latency) float64 { return l.P999MS }), ""},
		{true, "CPU µs/" + r.Unit + ": server", func(s *SystemResult) string { return us(s.CPUServerUS) }, ratio(rt.CPU)},
		{true, "CPU µs/" + r.Unit + ": PostgreSQL", func(s *SystemResult) string { return us(s.CPUPostgresUS) }, ""},
		{true, "CPU µs/" + r.Unit + ": server+PostgreSQL", func(s *SystemResult) string {
			if s.CPUServerUS == nil {
				return "-"
			}
			v := *s.CPUServerUS
			if s.CPUPostgresUS != nil {
				v += *s.CPUPostgresUS
			}
			return num("%.0f", v)
		}, ratio(rt.CPUWithDB)},
		{true, "CPU µs/" + r.Unit + ": bench", func(s *SystemResult) string { return num("%.0f", s.CPUBenchUS) }, ""},
		{true, "host steal ms/s", func(s *SystemResult) string { return num("%.1f", s.StealMSPerS) }, ""},
	}
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(l.label))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	cells := []string{pad("")}
	for _, s := range r.Systems {
		cells = append(cells, strings.ToUpper(string(s.System)))
	}
	if r.Ratios != nil {
		cells = append(cells, "BRIDGE/FLOOR")
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	for _, l := range lines {
		if !l.show {
			continue
		}
		cells := []string{pad(l.label)}
		for i := range r.Systems {
			cells = append(cells, l.cell(&r.Systems[i]))
		}
		if r.Ratios != nil {
			cells = append(cells, l.ratio)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	// Empty ratio cells would leave trailing blanks.
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight(l, " "))
	}

	fmt.Fprintf(w, "\nserver: the bridge process, or the floor proxy process; bench: this process (load generator and simulated DSPs)\n")
	fmt.Fprintf(w, "host steal: time the hypervisor kept this machine's runnable virtual CPUs off the real ones (/proc/stat); it stretches every tail\n")
	fmt.Fprintf(w, "bridge RSS: %.0f MB at start, %.0f MB at most, %.0f MB at the end\n", r.BridgeRSSMB.Start, r.BridgeRSSMB.Max, r.BridgeRSSMB.End)
	if r.Ratios != nil && len(r.Ratios.RoundRates) > 1 {
		var parts []string
		for _, v := range r.Ratios.RoundRates {
			parts = append(parts, fmt.Sprintf("%.2f", v))
		}
		fmt.Fprintf(w, "bridge/floor rate by round: %s\n", strings.Join(parts, " "))
	}
	for _, s := range r.Systems {
		if s.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", s.System, s.FirstError)
		}
		if s.PoolExhausted {
			fmt.Fprintf(w, "%s: the pool of wins to view ran out in some round (rates are over the time actually measured)\n", s.System)
		}
	}
	fmt.Fprintf(w, "books: %s\n", r.Books.Summary())
	for _, p := range r.Problems {
		if !slices.Contains(r.Books.Problems, p) {
			fmt.Fprintf(w, "problem: %s\n", p)
		}
	}
	if r.Dir != "" {
		fmt.Fprintf(w, "logs and config kept in %s\n", r.Dir)
	}
}

func fmtMS(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).String()
}

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}
