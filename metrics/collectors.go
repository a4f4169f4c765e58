package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/store"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

// breakerCollector reads every configured DSP's breaker at scrape time, so
// the gauge follows reloads and never goes stale.
type breakerCollector struct {
	states func() []auction.DSPState
	state  *prometheus.Desc
	fails  *prometheus.Desc
	flight *prometheus.Desc
	qps    *prometheus.Desc
}

// breakerValue maps a breaker state to the gauge's value.
var breakerValue = map[string]float64{"closed": 0, "disabled": 0, "half-open": 1, "open": 2}

// WatchDSPs adds the breaker state, consecutive failures and calls in
// flight of the DSPs that states lists (auction.Auctioneer.DSPStates).
func (m *Metrics) WatchDSPs(states func() []auction.DSPState) {
	m.Registry.MustRegister(&breakerCollector{
		states: states,
		state: desc("dsp_breaker_state",
			"Circuit breaker state of a configured DSP: 0 closed (or no breaker), 1 half-open, 2 open.", "dsp"),
		fails:  desc("dsp_breaker_consecutive_failures", "Consecutive failed calls counted by the DSP's breaker.", "dsp"),
		flight: desc("dsp_in_flight", "Calls to the DSP in flight now (bounded by dsps[].max_conns).", "dsp"),
		qps:    desc("dsp_qps_limit", "The DSP's dsps[].qps cap (0: none); requests over it are counted as skipped_qps.", "dsp"),
	})
}

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.fails
	ch <- c.flight
	ch <- c.qps
}

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.states() {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, breakerValue[s.Breaker], s.Name)
		ch <- prometheus.MustNewConstMetric(c.fails, prometheus.GaugeValue, float64(s.ConsecutiveFailures), s.Name)
		ch <- prometheus.MustNewConstMetric(c.flight, prometheus.GaugeValue, float64(s.InFlight), s.Name)
		ch <- prometheus.MustNewConstMetric(c.qps, prometheus.GaugeValue, float64(s.QPS), s.Name)
	}
}

// poolCollector exports pgxpool.Stat.
type poolCollector struct {
	pool                                                          *pgxpool.Pool
	acquired, idle, total, max, constructing                      *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires, emptyWait, cancelled *prometheus.Desc
	newConns, lifetimeDestroyed, idleDestroyed                    *prometheus.Desc
}

// WatchPool adds the database pool statistics.
func (m *Metrics) WatchPool(pool *pgxpool.Pool) {
	m.Registry.MustRegister(&poolCollector{
		pool:              pool,
		acquired:          desc("db_pool_acquired_conns", "Connections in use."),
		idle:              desc("db_pool_idle_conns", "Idle connections."),
		total:             desc("db_pool_total_conns", "Connections open (in use, idle and being opened)."),
		max:               desc("db_pool_max_conns", "The pool's limit (database.max_conns)."),
		constructing:      desc("db_pool_constructing_conns", "Connections being opened."),
		acquires:          desc("db_pool_acquires_total", "Successful acquires."),
		acquireSeconds:    desc("db_pool_acquire_seconds_total", "Time spent in successful acquires."),
		emptyAcquires:     desc("db_pool_empty_acquires_total", "Acquires that had to wait for a connection."),
		emptyWait:         desc("db_pool_empty_acquire_wait_seconds_total", "Time spent waiting by acquires that found the pool empty."),
		cancelled:         desc("db_pool_canceled_acquires_total", "Acquires given up because their context ended."),
		newConns:          desc("db_pool_new_conns_total", "Connections opened."),
		lifetimeDestroyed: desc("db_pool_max_lifetime_destroyed_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroyed:     desc("db_pool_max_idle_destroyed_total", "Connections closed for idling too long."),
	})
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.constructing, c.acquires, c.acquireSeconds,
		c.emptyAcquires, c.emptyWait, c.cancelled, c.newConns, c.lifetimeDestroyed, c.idleDestroyed} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.total, float64(s.TotalConns()))
	g(c.max, float64(s.MaxConns()))
	g(c.constructing, float64(s.ConstructingConns()))
	n(c.acquires, float64(s.AcquireCount()))
	n(c.acquireSeconds, s.AcquireDuration().Seconds())
	n(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	n(c.emptyWait, s.EmptyAcquireWaitTime().Seconds())
	n(c.cancelled, float64(s.CanceledAcquireCount()))
	n(c.newConns, float64(s.NewConnsCount()))
	n(c.lifetimeDestroyed, float64(s.MaxLifetimeDestroyCount()))
	n(c.idleDestroyed, float64(s.MaxIdleDestroyCount()))
}

// storeCollector reads the outbox and payment reports from the database at
// scrape time: the numbers are the database's, so they hold across
// restarts and across several bridges sharing it. Each query is bounded
// by a short timeout; a failure drops its series from that scrape and
// counts in collector_errors_total instead of hanging the scrape.
type storeCollector struct {
	m                                  *Metrics
	st                                 *store.Store
	log                                *slog.Logger
	window                             time.Duration
	now                                func() time.Time
	notices, atRisk, oldestAge, report *prometheus.Desc
}

// WatchStore adds the outbox counts per DSP and status and the payment
// reports of the last window (payments.window) by status.
func (m *Metrics) WatchStore(st *store.Store, window time.Duration, log *slog.Logger) {
	m.Registry.MustRegister(&storeCollector{
		m: m, st: st, log: log, window: window, now: time.Now,
		notices: desc("outbox_notices",
			"Open notices in the outbox by DSP and status: pending (incl. retrying), retrying (pending after a failed attempt), undelivered. Deliveries are counted by outbox_deliveries_total.",
			"dsp", "status"),
		atRisk: desc("outbox_at_risk_nano_usd",
			"What the views whose burl was never delivered cost the DSP, in nano-USD (billed, not acknowledged).", "dsp"),
		oldestAge: desc("outbox_oldest_pending_age_seconds", "Age of the DSP's oldest pending notice.", "dsp"),
		report:    desc("payment_reports", "Payment reports of the last payments.window by status: processing, done.", "status"),
	})
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.notices
	ch <- c.atRisk
	ch <- c.oldestAge
	ch <- c.report
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.m.collectorTimeout)
	defer cancel()
	now := c.now()
	if stats, err := c.st.OpenOutboxByDSP(ctx); err != nil {
		c.failed("outbox", err)
	} else {
		// Configured DSPs without open notices read 0, not "no series".
		seen := map[string]bool{}
		for _, name := range c.m.dspNames() {
			stats = append(stats, store.OutboxStats{DSP: name})
		}
		for _, s := range stats {
			if seen[s.DSP] {
				continue
			}
			seen[s.DSP] = true
			for status, v := range map[string]int64{"pending": s.Pending, "retrying": s.Retrying, "undelivered": s.Undelivered} {
				ch <- prometheus.MustNewConstMetric(c.notices, prometheus.GaugeValue, float64(v), s.DSP, status)
			}
			ch <- prometheus.MustNewConstMetric(c.atRisk, prometheus.GaugeValue, float64(s.AtRiskNanoUSD), s.DSP)
			age := 0.0
			if s.OldestPending != nil {
				age = max(now.Sub(*s.OldestPending).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age, s.DSP)
		}
	}
	reports, err := c.st.ListReports(ctx, now.Add(-c.window), now.Add(time.Second))
	if err != nil {
		c.failed("payment_reports", err)
		return
	}
	byStatus := map[string]int{"processing": 0, "done": 0}
	for _, r := range reports {
		byStatus[r.Status]++
	}
	for status, n := range byStatus {
		ch <- prometheus.MustNewConstMetric(c.report, prometheus.GaugeValue, float64(n), status)
	}
}

func (c *storeCollector) failed(collector string, err error) {
	c.m.collectorErrors.WithLabelValues(collector).Inc()
	c.log.Warn("metrics: scrape-time query failed", "collector", collector, "error", err)
}
