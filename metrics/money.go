package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adshares/dsp-bridge/rates"
	"github.com/adshares/dsp-bridge/store"
)

// moneyMetrics are the operator's money: the ADS rate feed, what billed
// views cost and are worth, payment reports that are late, and the
// auction's deadline (for the /bid latency alert).
type moneyMetrics struct {
	rateFetches  *prometheus.CounterVec
	billedViews  *prometheus.CounterVec
	billedSpend  *prometheus.CounterVec
	billedClicks *prometheus.CounterVec
	tmax         prometheus.Gauge

	// the billed series by DSP, counted per view
	billedViewsC, billedSpendC, billedClicksC *children[string, prometheus.Counter]
}

// rateStateValue maps a rate state to the gauge's value: 0 fine, 1 the feed
// fails but the rate is young enough, 2 stale.
var rateStateValue = map[rates.State]float64{rates.StateStatic: 0, rates.StateFresh: 0, rates.StateFailing: 1, rates.StateStale: 2}

// WatchMoney adds the money metrics: the rate in use and its feed (status
// is rates.Feed.Status), billed views by DSP (ObserveBilled), how late the
// oldest processing payment report is (settleAfter is payments.settle_after)
// and the value of the newest done one, and auction.tmax (SetTMax). Call it
// once, before the observers.
func (m *Metrics) WatchMoney(status func() rates.Status, st *store.Store, settleAfter time.Duration, log *slog.Logger) {
	f := factory{m.Registry}
	mm := &m.money
	mm.rateFetches = f.counter("ads_rate_fetches_total", "Fetches of the ADS rate feed (money.rate_url) by result: ok, error.", "result")
	for _, r := range []string{"ok", "error"} {
		mm.rateFetches.WithLabelValues(r)
	}
	mm.billedViews = f.counter("billed_views_total", "Billed views recorded by this process, by DSP.", "dsp")
	mm.billedSpend = f.counter("billed_spend_nano_usd_total",
		"What the billed views recorded by this process cost their DSP, in nano-USD (price/1000 each; the books are `bridge payments dsps`).", "dsp")
	mm.billedClicks = f.counter("billed_value_clicks_total",
		"What the billed views recorded by this process are worth to the AdServer, in ADS clicks (after money.fee).", "dsp")
	mm.billedViewsC, mm.billedSpendC, mm.billedClicksC = counters1(mm.billedViews), counters1(mm.billedSpend), counters1(mm.billedClicks)
	mm.tmax = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "auction_tmax_seconds",
		Help: "The auction's deadline (auction.tmax), for comparing /bid latency with it."})
	m.Registry.MustRegister(mm.tmax)
	for _, name := range m.dspNames() {
		m.preBilled(name)
	}
	m.Registry.MustRegister(&moneyCollector{
		m: m, status: status, st: st, settleAfter: settleAfter, log: log, now: time.Now,
		rate:  desc("ads_rate_nano_usd", "The ADS rate billed views are valued at now, in nano-USD per ADS."),
		state: desc("ads_rate_state", "The ADS rate's state: 0 fresh (or static money.ads_usd), 1 the feed fails but the rate is younger than money.rate_max_age, 2 stale (older, or never fetched)."),
		age:   desc("ads_rate_age_seconds", "Time since the rate in use was fetched (only with money.rate_url and a fetched rate)."),
		overdue: desc("payment_reports_overdue_seconds",
			"How far the oldest processing payment report is past the time it should be done (its period end + payments.settle_after); 0 when none is late."),
		lastValue: desc("payment_report_last_value_clicks", "Value of the newest done payment report, in ADS clicks."),
	})
}

// preBilled creates a DSP's billed series at zero.
func (m *Metrics) preBilled(dsp string) {
	if m.money.billedViews == nil {
		return
	}
	m.money.billedViews.WithLabelValues(dsp)
	m.money.billedSpend.WithLabelValues(dsp)
	m.money.billedClicks.WithLabelValues(dsp)
}

// ObserveRateFetch counts one fetch of the rate feed (rates.Feed.Observe).
func (m *Metrics) ObserveRateFetch(result string) {
	if m.money.rateFetches != nil {
		m.money.rateFetches.WithLabelValues(result).Inc()
	}
}

// ObserveBilled counts one billed view (events.Module.ObserveBilled):
// priceMicros is its CPM in micro-USD, so it cost priceMicros nano-USD.
func (m *Metrics) ObserveBilled(dsp string, priceMicros, clicks int64) {
	if m.money.billedViews == nil {
		return
	}
	m.money.billedViewsC.get(dsp).Inc()
	m.money.billedSpendC.get(dsp).Add(float64(priceMicros))
	m.money.billedClicksC.get(dsp).Add(float64(clicks))
}

// SetTMax records auction.tmax (at start and after every reload).
func (m *Metrics) SetTMax(d time.Duration) {
	if m.money.tmax != nil {
		m.money.tmax.Set(d.Seconds())
	}
}

// moneyCollector reads the rate feed's status and the payment reports at
// scrape time.
type moneyCollector struct {
	m                                    *Metrics
	status                               func() rates.Status
	st                                   *store.Store
	settleAfter                          time.Duration
	log                                  *slog.Logger
	now                                  func() time.Time
	rate, state, age, overdue, lastValue *prometheus.Desc
}

func (c *moneyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rate, c.state, c.age, c.overdue, c.lastValue} {
		ch <- d
	}
}

func (c *moneyCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	s := c.status()
	ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, float64(s.Nanos))
	ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, rateStateValue[s.State])
	if s.Feed && s.Source == rates.SourceFeed {
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.Age.Seconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.m.collectorTimeout)
	defer cancel()
	h, err := c.st.ReportHealth(ctx)
	if err != nil {
		c.m.collectorErrors.WithLabelValues("payment_health").Inc()
		c.log.Warn("metrics: scrape-time query failed", "collector", "payment_health", "error", err)
		return
	}
	late := 0.0
	if h.OldestProcessingEnd != nil {
		late = max(now.Sub(h.OldestProcessingEnd.Add(c.settleAfter)).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, late)
	if h.LastDoneValue != nil {
		ch <- prometheus.MustNewConstMetric(c.lastValue, prometheus.GaugeValue, float64(*h.LastDoneValue))
	}
}
