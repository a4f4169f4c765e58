// Package retention keeps the time-partitioned tables (auctions, events,
// outbox) the size of their retention: it creates partitions ahead of time
// and drops whole expired partitions (never a row-by-row DELETE), and it
// tells the operator what exists and what will be dropped when
// (`bridge retention status`).
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/store"
)

// Policy is what may be dropped when.
type Policy struct {
	Wins     time.Duration // retention.wins
	Events   time.Duration // retention.events
	Interval time.Duration // retention.partition_interval
	// Payments: reports of payments.window keep their details.
	Window, Period, SettleAfter time.Duration
	// NoticeMaxAge is outbox.max_age: pending notices older than it (and
	// outbox.ClaimSlack) that no worker claimed are given up.
	NoticeMaxAge time.Duration
}

// PolicyFrom reads the policy from the configuration.
func PolicyFrom(cfg *config.Config) Policy {
	return Policy{Wins: cfg.Retention.Wins, Events: cfg.Retention.Events, Interval: cfg.Retention.PartitionInterval,
		Window: cfg.Payments.Window, Period: cfg.Payments.Period, SettleAfter: cfg.Payments.SettleAfter,
		NoticeMaxAge: cfg.Outbox.MaxAge}
}

// eventsKeep is how long an events or outbox partition is kept after it
// ends: retention.events, and never less than what keeps the details of
// every listed report (validated, and enforced here too).
func (p Policy) eventsKeep() time.Duration {
	return max(p.Events, p.Window+p.Period+p.SettleAfter, p.Wins+p.Interval)
}

// ahead is how far beyond now partitions exist: two days, and at least
// three partitions, so that a keeper that stops for a while never leaves
// inserts without a partition (they would go to the default one).
func (p Policy) ahead() time.Duration { return max(48*time.Hour, 3*p.Interval) }

// Keeper creates partitions ahead and drops expired ones, every Every.
// Several bridges may run one each: one run at a time holds the
// database's maintenance lock, the others skip.
type Keeper struct {
	Store  *store.Store
	Log    *slog.Logger
	Policy Policy
	Every  time.Duration
	// Now is the clock partitions are judged by; nil is the database's.
	Now func() time.Time
	// Observe, if set, counts every dropped partition by table.
	Observe func(table string)
	// ObserveRun, if set, counts every run by result: ok, error, skipped.
	ObserveRun func(result string)
}

// New makes a keeper for the configuration.
func New(st *store.Store, cfg *config.Config, log *slog.Logger) *Keeper {
	return &Keeper{Store: st, Log: log, Policy: PolicyFrom(cfg), Every: cfg.Retention.CheckInterval}
}

func (k *Keeper) now(ctx context.Context) (time.Time, error) {
	if k.Now != nil {
		return k.Now(), nil
	}
	return k.Store.Now(ctx)
}

// Run runs RunOnce at once and then every Every until ctx is cancelled.
// Failures are logged and retried at the next run: a partition is dropped
// completely or not at all.
func (k *Keeper) Run(ctx context.Context) error {
	t := time.NewTicker(k.Every)
	defer t.Stop()
	for {
		if _, err := k.RunOnce(ctx); err != nil && ctx.Err() == nil {
			k.Log.Warn("retention: run failed, will retry", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Result is what one run did.
type Result struct {
	Ran      bool              // false: another instance was running
	Created  []store.Partition // partitions created ahead (or for rows in a default partition)
	Dropped  []Verdict
	Blocked  []Verdict // expired by time, kept for a reason
	Expired  int64     // pending notices given up (never claimed in time)
	Failures []string  // drops that failed (lock timeout...): tried again next run
}

// RunOnce creates the partitions of the coming days, gives up stale
// notices and drops every expired partition that nothing needs any more.
func (k *Keeper) RunOnce(ctx context.Context) (Result, error) {
	var res Result
	ran, err := k.Store.WithMaintenanceLock(ctx, func(ctx context.Context) error {
		now, err := k.now(ctx)
		if err != nil {
			return err
		}
		if res.Created, err = k.ensure(ctx, now); err != nil {
			return err
		}
		reason := fmt.Sprintf("never claimed before outbox.max_age (%s)", k.Policy.NoticeMaxAge)
		if res.Expired, err = k.Store.ExpireNotices(ctx, now.Add(-k.Policy.NoticeMaxAge-outbox.ClaimSlack), reason); err != nil {
			return err
		}
		if res.Expired > 0 {
			k.Log.Warn("retention: pending notices nobody claimed in time given up", "notices", res.Expired)
		}
		plan, err := k.Plan(ctx, now)
		if err != nil {
			return err
		}
		for _, v := range plan {
			switch v.Action {
			case ActionBlocked:
				res.Blocked = append(res.Blocked, v)
			case ActionDrop:
				if err := k.drop(ctx, v); err != nil {
					res.Failures = append(res.Failures, err.Error())
					k.Log.Warn("retention: partition not dropped, will retry", "table", v.Table, "partition", v.Name, "error", err)
					continue
				}
				res.Dropped = append(res.Dropped, v)
			}
		}
		return nil
	})
	res.Ran = ran
	switch {
	case err != nil:
		k.observeRun("error")
		return res, err
	case !ran:
		k.observeRun("skipped")
	default:
		k.observeRun("ok")
	}
	return res, nil
}

func (k *Keeper) observeRun(result string) {
	if k.ObserveRun != nil {
		k.ObserveRun(result)
	}
}

// Ensure creates the partitions from now to the policy's horizon (and
// those rows in a default partition belong to), if no other instance is
// busy doing so. The bridge calls it once at start.
func (k *Keeper) Ensure(ctx context.Context) ([]store.Partition, error) {
	var created []store.Partition
	_, err := k.Store.WithMaintenanceLock(ctx, func(ctx context.Context) error {
		now, err := k.now(ctx)
		if err != nil {
			return err
		}
		created, err = k.ensure(ctx, now)
		return err
	})
	return created, err
}

func (k *Keeper) ensure(ctx context.Context, now time.Time) ([]store.Partition, error) {
	var created []store.Partition
	for _, table := range store.PartitionedTables {
		c, err := k.Store.EnsurePartitions(ctx, table, now, now.Add(k.Policy.ahead()), k.Policy.Interval)
		created = append(created, c...)
		if err != nil {
			return created, err
		}
	}
	if len(created) > 0 {
		names := make([]string, len(created))
		for i, p := range created {
			names[i] = p.Name
		}
		k.Log.Info("retention: partitions created", "partitions", names)
	}
	return created, nil
}

// drop drops one partition after checking again, with it locked, that
// nothing needs it, and logs it.
func (k *Keeper) drop(ctx context.Context, v Verdict) error {
	var check func(ctx context.Context, tx pgx.Tx) error
	switch v.Table {
	case "events":
		check = func(ctx context.Context, tx pgx.Tx) error {
			if why, err := k.eventsNeeded(ctx, tx, v.Partition, v.now); err != nil || why != "" {
				if why != "" {
					err = fmt.Errorf("%w: %s", store.ErrPartitionKept, why)
				}
				return err
			}
			return store.MarkDetailsDropped(ctx, tx, v.From, v.To)
		}
	case "outbox":
		check = func(ctx context.Context, tx pgx.Tx) error {
			pending, err := k.Store.HasPending(ctx, tx, v.Partition)
			if err == nil && pending {
				err = fmt.Errorf("%w: notices still pending", store.ErrPartitionKept)
			}
			return err
		}
	}
	if err := k.Store.DropPartition(ctx, v.Partition, check); err != nil {
		return err
	}
	k.Log.Info("retention: partition dropped", "table", v.Table, "partition", v.Name,
		"from", v.From, "to", v.To, "rows_estimate", v.Rows, "bytes", v.Bytes, "reason", v.Reason)
	if k.Observe != nil {
		k.Observe(v.Table)
	}
	return nil
}

// eventsNeeded says why an expired events partition must stay ("" if it
// need not): billed views no report has taken, or reports with rows in it
// that are not done or still listed to the AdServer (payments.window).
func (k *Keeper) eventsNeeded(ctx context.Context, tx pgx.Tx, p store.Partition, now time.Time) (string, error) {
	unsettled, err := k.Store.HasUnsettled(ctx, tx, p)
	if err != nil {
		return "", err
	}
	if unsettled {
		return "billed views not in a report yet", nil
	}
	reports, err := k.Store.ReportsWithRowsIn(ctx, tx, p.From, p.To)
	if err != nil {
		return "", err
	}
	var open, listed []string
	for _, r := range reports {
		switch {
		case r.Status != store.StatusDone:
			open = append(open, strconv.FormatInt(r.ID, 10))
		case !r.PeriodStart.Before(now.Add(-k.Policy.Window)):
			listed = append(listed, strconv.FormatInt(r.ID, 10))
		}
	}
	if len(open) > 0 {
		return "report " + strings.Join(open, ", ") + " not done", nil
	}
	if len(listed) > 0 {
		return "report " + strings.Join(listed, ", ") + " inside payments.window", nil
	}
	return "", nil
}
