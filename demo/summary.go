package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/table"
	"github.com/adshares/dsp-bridge/rates"
)

// Summary is everything a demo run did and what it added up to. The demo
// prints it; the end-to-end test asserts it (Check) and recomputes it.
type Summary struct {
	Seed      uint64
	Rate      int
	Duration  time.Duration
	RateNanos int64 // nano-USD per ADS: what the fake rate service answers
	FeePPM    int64 // money.fee, parts per million
	RateURL   string
	BridgeURL string
	// BridgeRate is the rate the bridge said it used at the end, and
	// RateFetches how often it asked the rate service.
	BridgeRate  rates.Status
	RateFetches int

	Registered              bool
	ServerURL, InventoryURL string
	Campaigns, Creatives    int
	BidCalls, Slots, Filled int
	BidErrors               []string // /bid answers the AdServer rejected
	LatencyP50, LatencyMax  time.Duration
	Served, Views, Clicks   int
	NotViewed               int // served, never seen for a second
	ServeFailed, ViewFailed int
	DSPs                    []DSPSummary
	Reports                 []ReportSummary // reports with billed views, paid by the AdServer
	ReportsListed           int             // every report /payment-reports listed
	ExpectedValue           int64           // Σ ads.ViewValueAfterFee(bid, rate, fee) over viewed wins, from the demo's own records
	ReportedValue           int64           // Σ value of the paid reports
	Credited                int64           // Σ credited by the AdServer
	Wins                    []WinRecord
	TrafficTime, SettleWait time.Duration
	Total                   time.Duration
	// Markup is what the bridge did with creatives from markup.
	Markup                    auction.CreativeStats
	bridgeViews, bridgeValues map[string]int64
}

// DSPSummary is one DSP's part.
type DSPSummary struct {
	Name         string
	Requests     int    // bid requests it received
	Failed       int    // answered 500
	Bids         int    // bids it made
	Wins         int    // slots it won
	Creative     string // where its bids carry the creative: nurl, image, vast
	Markup       bool   // the creative is in adm: the bridge fires nurl and pixels itself
	Served       int    // nurl hits at the DSP: the browser's fetch of serve_url, or the bridge's win notice for markup
	Views        int    // viewed wins
	Bills        int    // burl notices it received and accepted
	BillHits     int    // burl calls including failed ones
	Pixels       int    // markup impression pixels (or VAST Impressions) it received
	Delivered    int64  // burl notices the bridge marked delivered
	DeliveredWin int64  // nurl notices the bridge marked delivered (markup DSPs)
	DeliveredImp int64  // impression notices the bridge marked delivered (markup DSPs)
	SpendMicros  int64  // Σ CPM micro-USD of its billed views (bridge's books): spend = /1000
	OwedClicks   int64  // what its billed views are worth in ADS clicks (bridge's books)
	Breaker      string
	BreakerOpens int
}

// ReportSummary is one paid payment report.
type ReportSummary struct {
	ID         string
	Value      int64 // clicks
	Details    int
	DetailsSum int64
	Credited   int64
	Unknown    int
	Pages      int
}

// summarize fills sum from the traffic, the DSPs, the bridge's books and
// the AdServer's settlements.
func (e *Env) summarize(ctx context.Context, sum *Summary, tr *traffic, settlements []adserversim.Settlement) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	sum.BidCalls, sum.Slots, sum.BidErrors, sum.Clicks = tr.calls, tr.slots, tr.bidErrors, tr.clicks
	sum.Wins = slices.Clone(tr.wins)
	sum.Filled = len(tr.wins)
	lat := slices.Clone(tr.latencies)
	slices.Sort(lat)
	if len(lat) > 0 {
		sum.LatencyP50, sum.LatencyMax = lat[len(lat)/2], lat[len(lat)-1]
	}
	per := map[string]*DSPSummary{}
	for _, d := range e.DSPs {
		bids, failed := d.Bids()
		st, opens := e.breakers.get(d.Profile.Name)
		ds := &DSPSummary{
			Name: d.Profile.Name, Requests: d.Server.RequestCount(), Failed: failed, Bids: bids,
			Served: len(d.Server.Wins()), Bills: len(d.Server.Bills()), BillHits: d.Server.BillHits(),
			Breaker: st, BreakerOpens: opens, Creative: string(d.Profile.Creative), Markup: d.Profile.markup(),
		}
		if ds.Creative == "" {
			ds.Creative = string(dspsim.CreativeNURL)
		}
		if ds.Markup {
			ds.Pixels = d.Server.Hits(d.Profile.impressionHit())
		}
		per[d.Profile.Name] = ds
	}
	for _, w := range sum.Wins {
		if ds := per[w.DSP]; ds != nil {
			ds.Wins++
			if w.Viewed {
				ds.Views++
			}
		}
		switch w.Fate {
		case FateViewed:
			sum.Views++
			sum.ExpectedValue += ads.ViewValueAfterFee(w.BidMicros, sum.RateNanos, sum.FeePPM)
		case FateNotViewed:
			sum.NotViewed++
		case FateServeFailed:
			sum.ServeFailed++
		case FateViewFailed:
			sum.ViewFailed++
		}
		if w.Served {
			sum.Served++
		}
	}
	if e.Service.Rates != nil {
		sum.BridgeRate = e.Service.Rates.Status()
	}
	if e.RateServer != nil {
		sum.RateFetches = len(e.RateServer.Requests())
	}
	// The bridge's own books: what each DSP owes, and its notice counts.
	if st := e.Service.Store; st != nil {
		if totals, err := st.DSPSpend(ctx, time.Now().Add(-24*time.Hour), time.Now().Add(time.Hour)); err == nil {
			for _, t := range totals {
				if ds := per[t.DSP]; ds != nil {
					ds.SpendMicros, ds.OwedClicks = t.PriceMicros, t.Value
				}
			}
		}
		if kinds, err := st.DeliveredByKind(ctx); err == nil {
			for dsp, k := range kinds {
				if ds := per[dsp]; ds != nil {
					ds.Delivered, ds.DeliveredWin, ds.DeliveredImp = k["burl"], k["nurl"], k["imp"]
				}
			}
		}
	}
	sum.Markup = e.Service.Auction().CreativeStats()
	for _, d := range e.DSPs {
		sum.DSPs = append(sum.DSPs, *per[d.Profile.Name])
	}
	for _, s := range settlements {
		sum.ReportedValue += s.Value
		sum.Credited += s.Credited
		if s.Details == 0 && s.Value == 0 {
			continue
		}
		sum.Reports = append(sum.Reports, ReportSummary{
			ID: s.ReportID, Value: s.Value, Details: s.Details, DetailsSum: s.DetailsSum,
			Credited: s.Credited, Unknown: s.Unknown, Pages: s.Pages,
		})
	}
}

// Check lists every way the run does not add up; empty means the bridge
// did its whole job. These are the invariants the end-to-end test asserts.
func (s *Summary) Check() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !s.Registered {
		add("the AdServer did not register the bridge")
	}
	if s.Creatives == 0 {
		add("the inventory has no creatives")
	}
	if n := len(s.BidErrors); n > 0 {
		add("%d /bid answers failed the AdServer's validation, first: %s", n, s.BidErrors[0])
	}
	if s.Filled > s.Slots {
		add("%d wins for %d slots", s.Filled, s.Slots)
	}
	if s.Views == 0 {
		add("no views: nothing was billed")
	}
	if s.BridgeRate.Source != rates.SourceFeed || s.BridgeRate.Nanos != s.RateNanos || s.RateFetches == 0 {
		add("the bridge values views at %s USD per ADS (%s, %s), the rate feed says %s (asked %d times)",
			ads.FormatUSDNanos(s.BridgeRate.Nanos), s.BridgeRate.Source, s.BridgeRate.State, ads.FormatUSDNanos(s.RateNanos), s.RateFetches)
	}
	if got := s.Views + s.NotViewed + s.ServeFailed + s.ViewFailed; got != s.Filled {
		add("wins %d != views %d + unviewed %d + serve failures %d + view failures %d", s.Filled, s.Views, s.NotViewed, s.ServeFailed, s.ViewFailed)
	}
	if s.ServeFailed > 0 || s.ViewFailed > 0 {
		add("%d serve_url fetches and %d view calls failed", s.ServeFailed, s.ViewFailed)
	}
	mismatches := 0
	for _, w := range s.Wins {
		if w.BidMicros == 0 || w.BidMicros != w.ServeMicros {
			mismatches++
		}
	}
	if mismatches > 0 {
		add("%d wins whose serve_url price is not the DSP's bid (first price)", mismatches)
	}
	var owed int64
	for _, d := range s.DSPs {
		if !d.Markup && d.Served != d.Wins-s.unservedOf(d.Name) {
			add("%s: %d nurl hits for %d served wins", d.Name, d.Served, d.Wins-s.unservedOf(d.Name))
		}
		if d.Markup {
			// The bridge fires a markup win's nurl once /bid has answered,
			// and its pixel with the burl: once each.
			if d.Served != d.Wins || d.DeliveredWin != int64(d.Wins) {
				add("%s: %d win notices received, %d delivered, for %d wins", d.Name, d.Served, d.DeliveredWin, d.Wins)
			}
			if d.Pixels != d.Views || d.DeliveredImp != int64(d.Views) {
				add("%s: %d impression pixels received, %d delivered, for %d views", d.Name, d.Pixels, d.DeliveredImp, d.Views)
			}
		}
		if d.Bills != d.Views {
			add("%s: %d burl notices received for %d views", d.Name, d.Bills, d.Views)
		}
		if d.Delivered != int64(d.Views) {
			add("%s: the bridge delivered %d notices for %d views", d.Name, d.Delivered, d.Views)
		}
		if want := s.expectedOf(d.Name); d.OwedClicks != want {
			add("%s: the bridge says it owes %d clicks, its views are worth %d", d.Name, d.OwedClicks, want)
		}
		owed += d.OwedClicks
	}
	if s.ReportedValue != s.ExpectedValue {
		add("reports are worth %d clicks, the billed views %d", s.ReportedValue, s.ExpectedValue)
	}
	if owed != s.ReportedValue {
		add("the DSPs owe %d clicks, the reports say %d", owed, s.ReportedValue)
	}
	details := 0
	for _, r := range s.Reports {
		details += r.Details
		if r.DetailsSum != r.Value {
			add("report %s: details add up to %d, value %d", r.ID, r.DetailsSum, r.Value)
		}
		if r.Credited != r.Value {
			add("report %s: the AdServer credited %d of %d", r.ID, r.Credited, r.Value)
		}
		if r.Unknown > 0 {
			add("report %s: %d details name cases the AdServer never recorded", r.ID, r.Unknown)
		}
	}
	if details != s.Views {
		add("%d payment details for %d views", details, s.Views)
	}
	return p
}

func (s *Summary) unservedOf(dsp string) int {
	n := 0
	for _, w := range s.Wins {
		if w.DSP == dsp && !w.Served {
			n++
		}
	}
	return n
}

// expectedOf is Σ ads.ViewValueAfterFee(bid, rate, fee) of a DSP's viewed wins.
func (s *Summary) expectedOf(dsp string) int64 {
	var v int64
	for _, w := range s.Wins {
		if w.DSP == dsp && w.Viewed {
			v += ads.ViewValueAfterFee(w.BidMicros, s.RateNanos, s.FeePPM)
		}
	}
	return v
}

// WriteTable prints the summary as short aligned tables.
func (s *Summary) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nAdServer simulator: registered (serverUrl %s), imported %d campaign(s) with %d creatives\n", s.ServerURL, s.Campaigns, s.Creatives)
	fmt.Fprintf(w, "Traffic: %d /bid calls for %d slots in %s, %d filled (%.0f%%), /bid latency p50 %s max %s\n",
		s.BidCalls, s.Slots, s.TrafficTime.Round(100*time.Millisecond), s.Filled, pct(s.Filled, s.Slots),
		s.LatencyP50.Round(time.Millisecond), s.LatencyMax.Round(time.Millisecond))
	fmt.Fprintf(w, "Browser/AdServer: %d served, %d viewed, %d not viewed, %d clicks\n", s.Served, s.Views, s.NotViewed, s.Clicks)
	fmt.Fprintf(w, "ADS rate: %s USD per ADS from the rate feed %s (fake AdsOperator, asked %d times, %s); fee %s\n\n",
		ads.FormatUSDNanos(s.BridgeRate.Nanos), s.RateURL, s.RateFetches, s.BridgeRate.State, ads.FormatPPM(s.FeePPM))
	fmt.Fprintf(w, "Creatives from markup: %s resolved, %d of them from the cache (%d fetches); %s refused; wins delivered %s\n\n",
		counts(s.Markup.Resolved), s.Markup.FromCache, s.Markup.Cache.Fetches, counts(s.Markup.Refused), counts(s.Markup.Delivered))

	dsps := table.New("DSP", "CREATIVE", "REQUESTS", "FAILED", "BIDS", "WINS", "NURL", "VIEWS", "PIXELS", "BURL OK", "BURL CALLS", "BREAKER", "SPEND USD", "OWES ADS", "OWES CLICKS")
	var t DSPSummary
	for _, d := range s.DSPs {
		br := d.Breaker
		if d.BreakerOpens > 0 {
			br = fmt.Sprintf("%s (opened %dx)", d.Breaker, d.BreakerOpens)
		}
		pixels := "-"
		if d.Markup {
			pixels = table.Int(d.Pixels)
		}
		dsps.Add(d.Name, d.Creative, table.Int(d.Requests), table.Int(d.Failed), table.Int(d.Bids), table.Int(d.Wins), table.Int(d.Served),
			table.Int(d.Views), pixels, table.Int(d.Bills), table.Int(d.BillHits), br, ads.FormatSpendUSD(d.SpendMicros), ads.FormatADS(d.OwedClicks), table.Int(d.OwedClicks))
		t.Requests += d.Requests
		t.Failed += d.Failed
		t.Bids += d.Bids
		t.Wins += d.Wins
		t.Served += d.Served
		t.Pixels += d.Pixels
		t.Views += d.Views
		t.Bills += d.Bills
		t.BillHits += d.BillHits
		t.SpendMicros += d.SpendMicros
		t.OwedClicks += d.OwedClicks
	}
	dsps.Footer = []string{"TOTAL", "", table.Int(t.Requests), table.Int(t.Failed), table.Int(t.Bids), table.Int(t.Wins), table.Int(t.Served),
		table.Int(t.Views), table.Int(t.Pixels), table.Int(t.Bills), table.Int(t.BillHits), "", ads.FormatSpendUSD(t.SpendMicros), ads.FormatADS(t.OwedClicks), table.Int(t.OwedClicks)}
	dsps.Write(w, "table")

	fmt.Fprintf(w, "\nPayment reports paid by the AdServer (%d listed, %d with billed views):\n", s.ReportsListed, len(s.Reports))
	reports := table.New("REPORT", "STATUS", "DETAILS", "VALUE ADS", "VALUE CLICKS", "DETAILS SUM", "CREDITED")
	var r ReportSummary
	for _, rep := range s.Reports {
		reports.Add(rep.ID, "done", table.Int(rep.Details), ads.FormatADS(rep.Value), table.Int(rep.Value), table.Int(rep.DetailsSum), table.Int(rep.Credited))
		r.Details += rep.Details
		r.Value += rep.Value
		r.DetailsSum += rep.DetailsSum
		r.Credited += rep.Credited
	}
	reports.Footer = []string{"TOTAL", "", table.Int(r.Details), ads.FormatADS(r.Value), table.Int(r.Value), table.Int(r.DetailsSum), table.Int(r.Credited)}
	reports.Write(w, "table")
	fmt.Fprintf(w, "\nRecomputed from the DSPs' bids: Σ over %d views of floor(CPM × (1 − %s) / 1000 / %s USD per ADS × 1e11) = %d clicks (%s ADS)\n",
		s.Views, ads.FormatPPM(s.FeePPM), ads.FormatUSDNanos(s.RateNanos), s.ExpectedValue, ads.FormatADS(s.ExpectedValue))
	if p := s.Check(); len(p) == 0 {
		fmt.Fprintf(w, "OK: wins = views + unviewed, every view billed once to its DSP, report values = Σ details = Σ billed views, all credited (%s from first /bid to paid)\n",
			s.Total.Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(w, "PROBLEMS:\n  - %s\n", strings.Join(p, "\n  - "))
	}
}

// counts prints "a 3, b 1" in key order, or "0".
func counts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	var total int64
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
			total += v
		}
	}
	if len(keys) == 0 {
		return "0"
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
