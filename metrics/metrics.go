// Package metrics exposes the bridge's Prometheus metrics on their own
// registry (no global state): the auction through auction.Observer, HTTP
// requests through a middleware, events and notices through their hooks,
// and breakers, the database pool, the outbox and payment reports through
// collectors read at scrape time.
package metrics

import (
	"sort"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "bridge"

// FineBuckets are for the bridge's own time (overhead, /bid): from 100µs,
// far below the 50 ms resolution common in ad tech, up to 5 s.
var FineBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5,
}

// DSPBuckets are for DSP round trips: dense around typical DSP timeouts.
var DSPBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2,
	0.3, 0.5, 0.75, 1, 2, 5,
}

// Metrics holds the bridge's metrics and registry. It implements
// auction.Observer, auction.BreakerObserver, auction.CreativeObserver and
// auction.CommitObserver.
type Metrics struct {
	// Registry holds every metric here; serve it with Handler.
	Registry *prometheus.Registry

	auctions         *prometheus.CounterVec
	invalidTraffic   *prometheus.CounterVec
	auctionDuration  prometheus.Histogram
	overhead         prometheus.Histogram
	winCommits       prometheus.Histogram
	wins             *prometheus.CounterVec
	dspRequests      *prometheus.CounterVec
	dspOutcomes      *prometheus.CounterVec
	dspBids          *prometheus.CounterVec
	dspNonBids       *prometheus.CounterVec
	dspRejected      *prometheus.CounterVec
	dspLatency       *prometheus.HistogramVec
	breakerChanges   *prometheus.CounterVec
	httpRequests     *prometheus.CounterVec
	bidDuration      *prometheus.HistogramVec
	events           *prometheus.CounterVec
	deliveries       *prometheus.CounterVec
	creativeDelivery *prometheus.CounterVec
	lossNotices      *prometheus.CounterVec
	publicRequests   *prometheus.CounterVec
	reloads          *prometheus.CounterVec
	reloadTime       prometheus.Gauge
	collectorErrors  *prometheus.CounterVec
	collectorTimeout time.Duration
	retentionDrops   *prometheus.CounterVec
	retentionRuns    *prometheus.CounterVec

	mu   sync.Mutex
	dsps map[string]bool // names already pre-created

	c cached // the series counted per request, by label set

	money moneyMetrics // WatchMoney
}

// New creates the metrics on a fresh registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), dsps: map[string]bool{}, collectorTimeout: 2 * time.Second}
	f := factory{m.Registry}
	m.auctions = f.counter("auctions_total", "Auctions by outcome: won, nobid, overloaded, store_error, invalid_traffic, cancelled.", "outcome")
	m.invalidTraffic = f.counter("invalid_traffic_total",
		"Auctions stopped before any DSP was asked, by reason: crawler, human_score (below traffic.min_human_score).", "reason")
	for _, r := range []string{"crawler", "human_score"} {
		m.invalidTraffic.WithLabelValues(r)
	}
	m.auctionDuration = f.histogram("auction_duration_seconds", "Time of one auction, from fan-out to stored wins.", FineBuckets)
	m.overhead = f.histogram("auction_overhead_seconds",
		"Time of one auction spent in the bridge: its duration minus the longest DSP wait.", FineBuckets)
	m.winCommits = f.histogram("win_commit_auctions",
		"Auctions whose wins one committed transaction stored (count: commits; see database.win_writers and database.win_commit_delay).",
		[]float64{1, 2, 4, 8, 16, 32, 64})
	m.wins = f.counter("auction_wins_total", "Slots won, by DSP.", "dsp")
	m.dspRequests = f.counter("dsp_requests_total", "Bid requests sent to a DSP (not counting calls skipped by breaker, limit, qps or filter).", "dsp")
	m.dspOutcomes = f.counter("dsp_responses_total",
		"DSP call outcomes: bid, nobid, rejected, timeout, error, breaker_open, overloaded, skipped_qps, skipped_filter, skipped_deadline, cancelled.", "dsp", "outcome")
	m.dspBids = f.counter("dsp_bids_total", "Bids received from a DSP, valid or not.", "dsp")
	m.dspNonBids = f.counter("dsp_nonbids_total",
		"DSP calls that produced no valid bid, by non-bid reason (no_bid, timeout, error, unreachable, invalid_response, rejected, breaker_open, overloaded, skipped_qps, skipped_filter, skipped_deadline, cancelled).",
		"dsp", "reason")
	m.dspRejected = f.counter("dsp_rejected_bids_total",
		"Bids the auction rejected, by reason (below_floor, bad_price, currency, unknown_impid, seat, missing_nurl, group, blocked_category, blocked_advertiser, blocked_attribute, size_not_allowed, missing_field, wrong_response_id, ...).",
		"dsp", "reason")
	m.dspLatency = f.histogramVec("dsp_latency_seconds", "Round trip of a DSP call (calls made only).", DSPBuckets, "dsp")
	m.breakerChanges = f.counter("dsp_breaker_transitions_total", "Circuit breaker state changes, by new state.", "dsp", "to")
	m.httpRequests = f.counter("http_requests_total", "AdServer-facing requests by route and status code.", "route", "code")
	m.bidDuration = f.histogramVec("bid_duration_seconds",
		"Time to answer POST /bid (and /serve), from the first byte of the handler to the last written.", FineBuckets, "route")
	m.events = f.counter("events_total",
		"View and click notifications by result: recorded, late (stored, not billed), spooled, unknown, expired (win older than retention.wins), invalid, unavailable.", "type", "result")
	m.deliveries = f.counter("outbox_deliveries_total",
		"Notice delivery attempts by this process: delivered, retry, refused (4xx), blocked (outbound URL policy), expired.", "dsp", "kind", "result")
	m.creativeDelivery = f.counter("creative_deliveries_total",
		"Wins by how the creative reaches the browser: nurl (serve_url is the DSP's nurl), inline (data: URI), public, direct, direct_fallback (direct delivery fell back to inline: the DSP's URL lacks CORS on some hop).",
		"dsp", "delivery")
	m.lossNotices = f.counter("loss_notices_total",
		"Loss notices (lurl) of valid bids that lost, by result: sent (2xx), failed, blocked (outbound URL policy), dropped (queue full).", "dsp", "result")
	m.publicRequests = f.counter("public_requests_total",
		"Requests to the public listener (public_listen) by result: served, not_found, unavailable.", "result")
	for _, r := range []string{"served", "not_found", "unavailable"} {
		m.publicRequests.WithLabelValues(r)
	}
	m.reloads = f.counter("config_reloads_total", "Configuration reloads (SIGHUP) by result: ok, error.", "result")
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful configuration load (start or reload)."})
	m.Registry.MustRegister(m.reloadTime)
	m.collectorErrors = f.counter("collector_errors_total", "Scrape-time queries that failed or timed out.", "collector")
	m.retentionDrops = f.counter("retention_dropped_partitions_total", "Expired partitions dropped by this process, by table.", "table")
	m.retentionRuns = f.counter("retention_runs_total",
		"Retention runs by result: ok, error, skipped (another instance was running one).", "result")
	for _, t := range []string{"auctions", "events", "outbox"} {
		m.retentionDrops.WithLabelValues(t)
	}
	for _, r := range []string{"ok", "error", "skipped"} {
		m.retentionRuns.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.reloads.WithLabelValues(r)
	}
	m.reloadTime.SetToCurrentTime()
	m.c = newCached(m)
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// SetDSPs creates the per-DSP series of the configured DSPs at zero, so
// that rates and alerts work from the first scrape. Call it at start and
// after every reload; series of removed DSPs stay (counters must not jump).
func (m *Metrics) SetDSPs(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if m.dsps[n] {
			continue
		}
		m.dsps[n] = true
		m.preBilled(n)
		m.wins.WithLabelValues(n)
		m.dspRequests.WithLabelValues(n)
		m.dspBids.WithLabelValues(n)
		m.dspLatency.WithLabelValues(n)
		for _, r := range auction.CreativeReasons {
			m.dspRejected.WithLabelValues(n, r.String())
		}
		for _, o := range []auction.Outcome{auction.OutcomeBid, auction.OutcomeNoBid, auction.OutcomeRejected,
			auction.OutcomeTimeout, auction.OutcomeError, auction.OutcomeBreakerOpen, auction.OutcomeOverloaded,
			auction.OutcomeSkippedQPS, auction.OutcomeSkippedFilter, auction.OutcomeSkippedDeadline, auction.OutcomeCancelled} {
			m.dspOutcomes.WithLabelValues(n, string(o))
		}
	}
}

// dspNames are the DSPs configured so far (sorted).
func (m *Metrics) dspNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.dsps))
	for n := range m.dsps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ObserveDSP counts one DSP's part in an auction.
func (m *Metrics) ObserveDSP(r auction.DSPResult) {
	m.c.dspOutcomes.get([2]string{r.DSP, string(r.Outcome)}).Inc()
	if r.Outcome.Called() {
		m.c.dspRequests.get(r.DSP).Inc()
		if r.Outcome != auction.OutcomeCancelled { // cut off by us: not the DSP's round trip
			m.c.dspLatency.get(r.DSP).Observe(r.Latency.Seconds())
		}
	}
	if r.Bids > 0 {
		m.c.dspBids.get(r.DSP).Add(float64(r.Bids))
	}
	if r.Outcome != auction.OutcomeBid {
		m.c.dspNonBids.get(dspReason{r.DSP, r.Reason}).Inc()
	}
}

// ObserveRejection counts one rejected bid.
func (m *Metrics) ObserveRejection(r auction.Rejection) {
	m.c.dspRejected.get(dspReason{r.DSP, r.Reason}).Inc()
}

// ObserveAuction counts one auction, its wins and its time.
func (m *Metrics) ObserveAuction(r *auction.AuctionResult) {
	m.c.auctions.get(string(r.Outcome)).Inc()
	if r.InvalidTraffic != "" {
		m.c.invalidTraffic.get(r.InvalidTraffic).Inc()
	}
	m.auctionDuration.Observe(r.Duration.Seconds())
	m.overhead.Observe(r.Overhead.Seconds())
	for _, w := range r.Wins {
		m.c.wins.get(w.DSP).Inc()
	}
}

// ObserveWinCommit counts a commit of the wins of n auctions.
func (m *Metrics) ObserveWinCommit(n int) { m.winCommits.Observe(float64(n)) }

// ObserveBreaker counts a circuit breaker state change.
func (m *Metrics) ObserveBreaker(dsp, _, to string) {
	m.breakerChanges.WithLabelValues(dsp, to).Inc()
}

// ObserveEvent counts one /view or /click (events.Module.Observe).
func (m *Metrics) ObserveEvent(typ, result string) {
	m.c.events.get([2]string{typ, result}).Inc()
}

// ObserveDelivery counts one notice delivery outcome (outbox.Worker.Observe).
func (m *Metrics) ObserveDelivery(dsp, kind, result string) {
	m.c.deliveries.get([3]string{dsp, kind, result}).Inc()
}

// ObserveRetentionDrop counts one dropped partition (retention.Keeper.Observe).
func (m *Metrics) ObserveRetentionDrop(table string) {
	m.retentionDrops.WithLabelValues(table).Inc()
}

// ObserveRetentionRun counts one retention run by result.
func (m *Metrics) ObserveRetentionRun(result string) {
	m.retentionRuns.WithLabelValues(result).Inc()
}

// ObserveCreative counts how a win's creative was delivered
// (auction.CreativeObserver).
func (m *Metrics) ObserveCreative(dsp, delivery string) {
	m.c.creativeDelivery.get([2]string{dsp, delivery}).Inc()
}

// ObserveLossNotice counts one lurl outcome (auction.CreativeObserver).
func (m *Metrics) ObserveLossNotice(dsp, result string) {
	m.c.lossNotices.get([2]string{dsp, result}).Inc()
}

// ObservePublic counts one request to the public listener.
func (m *Metrics) ObservePublic(result string) {
	m.c.publicRequests.get(result).Inc()
}

// ObserveReload counts a configuration reload.
func (m *Metrics) ObserveReload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.reloadTime.SetToCurrentTime()
}

var (
	_ auction.Observer         = (*Metrics)(nil)
	_ auction.BreakerObserver  = (*Metrics)(nil)
	_ auction.CreativeObserver = (*Metrics)(nil)
	_ auction.CommitObserver   = (*Metrics)(nil)
)
