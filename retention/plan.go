package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// Actions of a Verdict.
const (
	ActionKeep    = "keep"    // not expired yet (or a default partition)
	ActionDrop    = "drop"    // expired, and nothing needs it: dropped at the next run
	ActionBlocked = "blocked" // expired by time, kept for Reason
)

// Verdict is what retention does with one partition, and why.
type Verdict struct {
	store.Partition
	// DropAt is when the partition's time is up (zero: never, the default
	// partition); it is dropped then unless something still needs it.
	DropAt time.Time `json:"drop_at"`
	Action string    `json:"action"`
	Reason string    `json:"reason"`

	now time.Time // the time the plan was made for
}

// Plan judges every partition of the partitioned tables at now, oldest
// first per table. It only reads.
func (k *Keeper) Plan(ctx context.Context, now time.Time) ([]Verdict, error) {
	var out []Verdict
	// The oldest events partition kept decides which outbox partitions may
	// go: a notice is enqueued at or after its view, so an outbox partition
	// ending before that has only notices of events already dropped.
	var keptEventsFrom *time.Time
	for _, table := range store.PartitionedTables {
		parts, err := k.Store.Partitions(ctx, table)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			v := Verdict{Partition: p, Action: ActionKeep, now: now}
			if p.Default {
				v.Reason = "default partition: rows no other partition covers; they move out when theirs is created"
				out = append(out, v)
				continue
			}
			if err := k.judge(ctx, &v, keptEventsFrom); err != nil {
				return nil, err
			}
			if table == "events" && v.Action != ActionDrop && (keptEventsFrom == nil || p.From.Before(*keptEventsFrom)) {
				from := p.From
				keptEventsFrom = &from
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// judge sets v's DropAt, Action and Reason.
func (k *Keeper) judge(ctx context.Context, v *Verdict, keptEventsFrom *time.Time) error {
	pol := k.Policy
	switch v.Table {
	case "auctions":
		// Events carry what billing needs (DSP, price, rate): a win is
		// only needed while it can be viewed.
		v.DropAt = v.To.Add(pol.Wins)
		if !v.now.Before(v.DropAt) {
			v.Action, v.Reason = ActionDrop, fmt.Sprintf("wins older than retention.wins (%s)", pol.Wins)
		}
	case "events":
		v.DropAt = v.To.Add(pol.eventsKeep())
		if v.now.Before(v.DropAt) {
			return nil
		}
		why, err := k.eventsNeeded(ctx, nil, v.Partition, v.now)
		if err != nil {
			return err
		}
		if why != "" {
			v.Action, v.Reason = ActionBlocked, why
			return nil
		}
		v.Action, v.Reason = ActionDrop, fmt.Sprintf("events older than retention.events (%s), their reports done and outside payments.window", pol.Events)
	case "outbox":
		v.DropAt = v.To.Add(pol.eventsKeep())
		if v.now.Before(v.DropAt) {
			return nil
		}
		if keptEventsFrom != nil && v.To.After(*keptEventsFrom) {
			v.Action, v.Reason = ActionBlocked, "events of the same time are kept"
			return nil
		}
		pending, err := k.Store.HasPending(ctx, nil, v.Partition)
		if err != nil {
			return err
		}
		if pending {
			v.Action, v.Reason = ActionBlocked, "notices still pending"
			return nil
		}
		v.Action, v.Reason = ActionDrop, fmt.Sprintf("notices older than retention.events (%s), their events dropped", pol.Events)
	}
	return nil
}
