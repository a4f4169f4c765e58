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

// WatchPool adds the database pool statistics (bridge_db_pool_*: the pool
// of everything but win writes).
func (m *Metrics) WatchPool(pool *pgxpool.Pool) { m.watchPool(pool, "db_pool", "") }

// WatchWinPool adds the statistics of the connections reserved for storing
// wins (bridge_db_win_pool_*, database.win_conns).
func (m *Metrics) WatchWinPool(pool *pgxpool.Pool) {
	m.watchPool(pool, "db_win_pool", " (connections reserved for storing wins)")
}

func (m *Metrics) watchPool(pool *pgxpool.Pool, prefix, of string) {
	d := func(name, help string) *prometheus.Desc { return desc(prefix+"_"+name, help+of) }
	m.Registry.MustRegister(&poolCollector{
		pool:              pool,
		acquired:          d("acquired_conns", "Connections in use."),
		idle:              d("idle_conns", "Idle connections."),
		total:             d("total_conns", "Connections open (in use, idle and being opened)."),
		max:               d("max_conns", "The pool's limit (database.max_conns less database.win_conns, or database.win_conns)."),
		constructing:      d("constructing_conns", "Connections being opened."),
		acquires:          d("acquires_total", "Successful acquires."),
		acquireSeconds:    d("acquire_seconds_total", "Time spent in successful acquires."),
		emptyAcquires:     d("empty_acquires_total", "Acquires that had to wait for a connection."),
		emptyWait:         d("empty_acquire_wait_seconds_total", "Time spent waiting by acquires that found the pool empty."),
		cancelled:         d("canceled_acquires_total", "Acquires given up because their context ended."),
		newConns:          d("new_conns_total", "Connections opened."),
		lifetimeDestroyed: d("max_lifetime_destroyed_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroyed:     d("max_idle_destroyed_total", "Connections closed for idling too long."),
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

// storeCollector reads the outbox, payment reports and table sizes from
// the database at scrape time: the numbers are the database's, so they
// hold across restarts and across several bridges sharing it. Every query
// is bounded: open notices of the last noticeWindow only (through the
// partial index of open rows, in the partitions of that window), reports
// of the window, sizes from the catalog. Each query is bounded by a short
// timeout; a failure drops its series from that scrape and counts in
// collector_errors_total instead of hanging the scrape.
type storeCollector struct {
	m                                  *Metrics
	st                                 *store.Store
	log                                *slog.Logger
	window, noticeWindow               time.Duration
	now                                func() time.Time
	notices, atRisk, oldestAge, report *prometheus.Desc
	tableBytes, tableRows, partitions  *prometheus.Desc
}

// WatchStore adds the open outbox notices created in the last noticeWindow
// (retention.wins) per DSP and status, the payment reports of the last
// window (payments.window) by status, and the size of the partitioned
// tables.
func (m *Metrics) WatchStore(st *store.Store, window, noticeWindow time.Duration, log *slog.Logger) {
	m.Registry.MustRegister(&storeCollector{
		m: m, st: st, log: log, window: window, noticeWindow: noticeWindow, now: time.Now,
		notices: desc("outbox_notices",
			"Open notices created in the last retention.wins, by DSP and status: pending (incl. retrying), retrying (pending after a failed attempt), undelivered. Deliveries are counted by outbox_deliveries_total.",
			"dsp", "status"),
		atRisk: desc("outbox_at_risk_nano_usd",
			"What the views whose burl was never delivered (notices of the last retention.wins) cost the DSP, in nano-USD (billed, not acknowledged).", "dsp"),
		oldestAge:  desc("outbox_oldest_pending_age_seconds", "Age of the DSP's oldest pending notice.", "dsp"),
		report:     desc("payment_reports", "Payment reports of the last payments.window by status: processing, done.", "status"),
		tableBytes: desc("table_bytes", "Size of a partitioned table, all partitions with indexes and TOAST.", "table"),
		tableRows:  desc("table_rows_estimate", "Rows of a partitioned table, as the planner estimates them (after ANALYZE).", "table"),
		partitions: desc("table_partitions", "Time partitions of a partitioned table (without the default one).", "table"),
	})
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.notices, c.atRisk, c.oldestAge, c.report, c.tableBytes, c.tableRows, c.partitions} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.m.collectorTimeout)
	defer cancel()
	now := c.now()
	if stats, err := c.st.OpenOutboxByDSP(ctx, now.Add(-c.noticeWindow)); err != nil {
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
	if sizes, err := c.st.TableSizes(ctx); err != nil {
		c.failed("tables", err)
	} else {
		for _, t := range sizes {
			ch <- prometheus.MustNewConstMetric(c.tableBytes, prometheus.GaugeValue, float64(t.Bytes), t.Table)
			ch <- prometheus.MustNewConstMetric(c.tableRows, prometheus.GaugeValue, float64(t.Rows), t.Table)
			ch <- prometheus.MustNewConstMetric(c.partitions, prometheus.GaugeValue, float64(t.Partitions), t.Table)
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
