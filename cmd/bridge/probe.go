package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/inventory"
	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("dsp probe", "measure round trips to every configured DSP against its timeout and auction.tmax", dspProbeCmd)
}

// closeShare: a p99 above this share of a DSP's time limit is "close".
const closeShare = 0.8

func dspProbeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("dsp probe", stderr)
	n := fs.Int("requests", 10, "test `requests` per DSP (OpenRTB test=1; sent one round at a time to all DSPs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("dsp probe: unexpected argument %q", fs.Arg(0))}
	}
	if *n < 1 || *n > 10000 {
		return &exitError{code: 2, err: errors.New("--requests: must be 1..10000")}
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if len(cfg.DSPs) == 0 {
		return &exitError{code: 2, err: errors.New("dsp probe: no dsps configured")}
	}
	a, err := auction.NewAuctioneer(cfg, noSaver{}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	slot := probeSlot(cfg)
	req := &auction.Request{
		Site:   auction.Site{Domain: "probe.example", Page: "https://probe.example/"},
		Device: auction.Device{IP: "192.0.2.1", UserAgent: "adshares-dsp-bridge-probe/" + version},
		Slots:  []auction.Slot{slot},
	}
	dsps := a.DSPTimeouts()
	// Wait well past every limit, so a slow DSP shows how slow it is.
	wait := cfg.Auction.TMax
	for _, d := range dsps {
		wait = max(wait, d.Timeout)
	}
	wait = 2*wait + time.Second
	fmt.Fprintf(stdout, "probing %d DSP(s) with %d test request(s) each (%s %s); auction.tmax %s gives DSPs at most %s\n\n",
		len(dsps), *n, slot.Creative.Type, slot.Creative.Size, cfg.Auction.TMax, a.Budget())
	results := make([][]auction.ProbeResult, len(dsps))
	for range *n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for i, r := range a.Probe(ctx, req, wait) {
			results[i] = append(results[i], r)
		}
	}
	rows := make([]probeRow, len(dsps))
	for i, d := range dsps {
		rows[i] = summarize(d, results[i], a.Budget())
	}
	if err := writeProbe(stdout, rows, cfg.Auction.TMax); err != nil {
		return err
	}
	if err := writePolicies(stdout, a.DSPPolicies()); err != nil {
		return err
	}
	for _, r := range rows {
		if r.verdict == "too slow" || r.verdict == "failing" {
			return &exitError{code: 1}
		}
	}
	return nil
}

// probeSlot offers the first configured creative, or a 300x250 image.
func probeSlot(cfg *config.Config) auction.Slot {
	cr := &inventory.Creative{Type: "image", Mime: "image/png", Size: "300x250", W: 300, H: 250}
	for _, c := range cfg.Inventory.Campaigns {
		for _, k := range c.Creatives {
			if w, h, ok := config.ParseSize(k.Size); ok {
				cr = &inventory.Creative{ID: k.ID, CampaignID: c.ID, Type: k.Type, Mime: k.Mime, Size: k.Size, W: w, H: h}
				return auction.Slot{ID: "probe-1", Mimes: []string{k.Mime}, Creative: cr}
			}
		}
	}
	return auction.Slot{ID: "probe-1", Mimes: []string{cr.Mime}, Creative: cr}
}

type probeRow struct {
	dsp                      auction.DSPTimeout
	ok, timeouts, errs, bids int
	p50, p99, max            latency
	limit                    time.Duration
	verdict                  string
	firstErr                 string
	path                     string // where the test bids' creatives came from (the most frequent)
	creative                 string // "ok n/m" or the most frequent refusal "reason n/m"
	creativeDetail           string // the first refusal's detail, else what resolved
}

// latency is one call's round trip; a timed-out call's is a lower bound.
type latency struct {
	d        time.Duration
	timedOut bool
}

func (l latency) String() string {
	if l.timedOut {
		return ">" + ms(l.d)
	}
	return ms(l.d)
}

// summarize computes the latency percentiles (nearest rank) of the
// answered and timed-out calls (a DSP's client gives up at its timeout, so
// a timeout counts as at least that slow) and the verdict against the time
// the DSP really gets: its timeout, or the auction's budget if that is less.
func summarize(d auction.DSPTimeout, results []auction.ProbeResult, budget time.Duration) probeRow {
	row := probeRow{dsp: d, limit: min(d.Timeout, budget)}
	summarizeCreatives(&row, results)
	var lat []latency
	for _, pr := range results {
		r := pr.DSPResult
		switch r.Outcome {
		case auction.OutcomeTimeout:
			row.timeouts++
			lat = append(lat, latency{max(r.Latency, d.Timeout), true})
		case auction.OutcomeError:
			row.errs++
			if row.firstErr == "" {
				row.firstErr = r.Err
			}
		default:
			row.ok++
			row.bids += r.Bids
			lat = append(lat, latency{d: r.Latency})
		}
	}
	if len(lat) > 0 {
		slices.SortFunc(lat, func(a, b latency) int { return cmp.Compare(a.d, b.d) })
		row.p50, row.p99, row.max = percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1]
	}
	switch {
	case row.ok == 0 && row.timeouts == 0:
		row.verdict = "failing"
	case row.p99.d > row.limit || row.p99.timedOut:
		row.verdict = "too slow"
	case float64(row.p99.d) > closeShare*float64(row.limit) || row.errs > 0 || row.timeouts > 0:
		row.verdict = "close"
	default:
		row.verdict = "ok"
	}
	return row
}

// percentile is the nearest-rank p-th percentile of sorted values.
func percentile(sorted []latency, p int) latency {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func writeProbe(w io.Writer, rows []probeRow, tmax time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DSP\tENDPOINT\tOK\tTIMEOUTS\tERRORS\tBIDS\tP50\tP99\tMAX\tTIMEOUT\tTMAX\tVERDICT\tPATH\tCREATIVE")
	for _, r := range rows {
		p50, p99, mx := "-", "-", "-"
		if r.ok+r.timeouts > 0 {
			p50, p99, mx = r.p50.String(), r.p99.String(), r.max.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.dsp.Name, r.dsp.Endpoint, r.ok, r.timeouts,
			r.errs, r.bids, p50, p99, mx, ms(r.dsp.Timeout), ms(tmax), r.verdict, r.path, r.creative)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.firstErr != "" {
			fmt.Fprintf(w, "%s: %d error(s), first: %s\n", r.dsp.Name, r.errs, r.firstErr)
		}
		if r.creativeDetail != "" {
			fmt.Fprintf(w, "%s: creative %s\n", r.dsp.Name, r.creativeDetail)
		}
	}
	fmt.Fprintf(w, "\nP50/P99/MAX: answered and timed-out calls (>: gave up at the DSP's timeout). Verdict against min(timeout, auction budget):\n"+
		"ok = p99 within %.0f%%; close = above %.0f%% or some errors/timeouts; too slow = p99 over it; failing = no answer at all\n",
		closeShare*100, closeShare*100)
	fmt.Fprintf(w, "PATH/CREATIVE: where the test bids' creatives came from (markup_image, vast, nurl; markup when it did not resolve) and\n"+
		"how many resolved as an auction would resolve them (else the reason, e.g. unrenderable_markup: ask the DSP for simple markup)\n")
	return nil
}

// writePolicies shows, per DSP, what it is offered and what it may bid:
// dialect, qps cap, dsps[].only filters, block lists, required bid fields,
// seat, the missing-price rule and the privacy signals it gets.
func writePolicies(w io.Writer, ps []auction.DSPPolicy) error {
	fmt.Fprintln(w, "\nSupply rules per DSP:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DSP\tDIALECT\tQPS\tONLY\tBLOCKS\tREQUIRE\tSEAT\tNO PRICE\tPRIVACY")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Dialect, p.QPS, p.Only, p.Blocks, p.Require, p.Seat,
			p.PriceMissing, p.Privacy)
	}
	return tw.Flush()
}

// summarizeCreatives fills the creative columns: the most frequent path,
// and "ok n/m" when every test bid's creative resolved, else the most
// frequent refusal.
func summarizeCreatives(row *probeRow, results []auction.ProbeResult) {
	paths, reasons := map[string]int{}, map[string]int{}
	n, ok := 0, 0
	var resolved, refused string
	for _, r := range results {
		c := r.Creative
		if c.Path == "" {
			continue // no bid
		}
		n++
		paths[c.Path]++
		if c.Reason == "" {
			ok++
			if resolved == "" {
				resolved = "resolved: " + c.Detail
			}
			continue
		}
		if refused == "" {
			refused = c.Reason + ": " + c.Detail
		}
		reasons[c.Reason]++
	}
	row.path, row.creative = "-", "-"
	if n == 0 {
		return
	}
	row.path = mostFrequent(paths)
	if ok == n {
		row.creative, row.creativeDetail = fmt.Sprintf("ok %d/%d", ok, n), resolved
		return
	}
	top := mostFrequent(reasons)
	row.creative, row.creativeDetail = fmt.Sprintf("%s %d/%d", top, reasons[top], n), refused
}

// mostFrequent is the key with the highest count (the smallest on a tie).
func mostFrequent(m map[string]int) string {
	best := ""
	for k, v := range m {
		if best == "" || v > m[best] || v == m[best] && k < best {
			best = k
		}
	}
	return best
}

// ms prints a duration in milliseconds with 0.1 ms resolution.
func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// noSaver stores nothing: a probe never wins.
type noSaver struct{}

func (noSaver) Save(context.Context, []store.Auction) error { return nil }
