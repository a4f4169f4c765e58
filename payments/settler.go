// Package payments turns billed views into the payment reports the AdServer
// pays its publishers from (ADSERVER-BRIDGE §12–§13, DECISIONS §8): the
// settler that closes periods, the /payment-reports and /payment-details
// endpoints, the optional AdServer signature check and the money formatting
// of the operator commands.
package payments

import (
	"context"
	"log/slog"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/store"
)

// Settler opens a report for every period and settles each one settle_after
// after its period ends, in transactions of payments.settle_chunk views.
// Several bridges may run one each on the same database: the store settles
// every report exactly once (they take turns on its chunks).
type Settler struct {
	store       *store.Store
	period      time.Duration
	settleAfter time.Duration
	chunk       int // views per settlement transaction
	log         *slog.Logger

	// Interval is how often Run ticks. Now is the clock periods are opened
	// and found due by; nil is the database's, so that several bridges
	// agree on when a period may be settled whatever their own clocks say
	// (tests inject one).
	Interval time.Duration
	Now      func() time.Time

	firstStart time.Time
}

// NewSettler makes a settler for the configured periods.
func NewSettler(st *store.Store, cfg config.Payments, log *slog.Logger) *Settler {
	// Tick often enough that a report turns done within a few seconds of
	// being due, and a 1 s test period still works.
	interval := min(cfg.Period/2, 5*time.Second)
	interval = max(interval, 100*time.Millisecond)
	return &Settler{store: st, period: cfg.Period, settleAfter: cfg.SettleAfter, chunk: cfg.SettleChunk, log: log,
		Interval: interval}
}

// Run ticks until ctx is cancelled. Database errors are logged and retried
// on the next tick: a settle either happened completely or not at all.
func (s *Settler) Run(ctx context.Context) error {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("payments: settling failed, will retry", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tick opens the reports of every period up to now and settles the due
// ones, oldest first. It returns the reports this call settled.
func (s *Settler) Tick(ctx context.Context) ([]store.Report, error) {
	now, err := s.now(ctx)
	if err != nil {
		return nil, err
	}
	if s.firstStart.IsZero() {
		fs, err := s.store.EnsureFirstStart(ctx, now)
		if err != nil {
			return nil, err
		}
		s.firstStart = fs
	}
	if _, err := s.store.OpenReports(ctx, s.period, s.firstStart, now); err != nil {
		return nil, err
	}
	due, err := s.store.DueReports(ctx, s.settleAfter, now)
	if err != nil {
		return nil, err
	}
	var settled []store.Report
	for _, id := range due {
		r, mine, err := s.store.SettleReport(ctx, id, now, s.chunk)
		if err != nil {
			return settled, err
		}
		if mine {
			settled = append(settled, *r)
			s.log.Info("payments: report settled", "report_id", r.ID, "value", *r.Value, "views", r.Views)
		}
	}
	return settled, nil
}

func (s *Settler) now(ctx context.Context) (time.Time, error) {
	if s.Now != nil {
		return s.Now(), nil
	}
	return s.store.Now(ctx)
}
