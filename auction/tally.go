package auction

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// TallyStore is where rejection counts are added up (*store.Store).
type TallyStore interface {
	AddRejections(ctx context.Context, counts []store.RejectionCount) error
}

// DefaultTallyFlush is how often counted rejections are written.
const DefaultTallyFlush = 5 * time.Second

// Tally counts rejected bids per UTC day, DSP and reason in memory and adds
// them to the database every few seconds, for `bridge payments dsps` (how
// often a DSP's markup was unrenderable, ...). It is an Observer wrapping
// another (the metrics): everything is passed on, rejections also counted.
// A crash loses the counts of the last flush interval; nothing else depends
// on them.
type Tally struct {
	st    TallyStore
	inner Observer
	log   *slog.Logger
	// Now and Every are the clock and the flush interval (tests set them).
	Now   func() time.Time
	Every time.Duration

	mu     sync.Mutex
	counts map[tallyKey]int64
}

type tallyKey struct {
	day         time.Time
	dsp, reason string
}

// NewTally counts into st and passes every observation on to inner (nil:
// none).
func NewTally(st TallyStore, inner Observer, log *slog.Logger) *Tally {
	if inner == nil {
		inner = NopObserver{}
	}
	return &Tally{st: st, inner: inner, log: log, Now: time.Now, Every: DefaultTallyFlush, counts: map[tallyKey]int64{}}
}

// ObserveDSP passes r on.
func (t *Tally) ObserveDSP(r DSPResult) { t.inner.ObserveDSP(r) }

// ObserveAuction passes r on.
func (t *Tally) ObserveAuction(r *AuctionResult) { t.inner.ObserveAuction(r) }

// ObserveRejection counts r and passes it on.
func (t *Tally) ObserveRejection(r Rejection) {
	y, m, d := t.Now().UTC().Date()
	k := tallyKey{time.Date(y, m, d, 0, 0, 0, 0, time.UTC), r.DSP, r.Reason.String()}
	t.mu.Lock()
	t.counts[k]++
	t.mu.Unlock()
	t.inner.ObserveRejection(r)
}

// ObserveBreaker passes a breaker change on, if inner wants them.
func (t *Tally) ObserveBreaker(dsp, from, to string) {
	if bo, ok := t.inner.(BreakerObserver); ok {
		bo.ObserveBreaker(dsp, from, to)
	}
}

// ObserveCreative passes a delivery on, if inner wants them.
func (t *Tally) ObserveCreative(dsp, delivery string) {
	if co, ok := t.inner.(CreativeObserver); ok {
		co.ObserveCreative(dsp, delivery)
	}
}

// ObserveLossNotice passes a loss notice outcome on, if inner wants them.
func (t *Tally) ObserveLossNotice(dsp, result string) {
	if co, ok := t.inner.(CreativeObserver); ok {
		co.ObserveLossNotice(dsp, result)
	}
}

// ObserveWinCommit passes a commit of wins on, if inner wants them.
func (t *Tally) ObserveWinCommit(auctions int) {
	if co, ok := t.inner.(CommitObserver); ok {
		co.ObserveWinCommit(auctions)
	}
}

// Flush adds the counts since the last flush to the database. On failure
// they are kept for the next one.
func (t *Tally) Flush(ctx context.Context) error {
	t.mu.Lock()
	pending := t.counts
	t.counts = map[tallyKey]int64{}
	t.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	rows := make([]store.RejectionCount, 0, len(pending))
	for k, n := range pending {
		rows = append(rows, store.RejectionCount{Day: k.day, DSP: k.dsp, Reason: k.reason, Bids: n})
	}
	if err := t.st.AddRejections(ctx, rows); err != nil {
		t.mu.Lock()
		for k, n := range pending {
			t.counts[k] += n // keys are days × DSPs × reasons: bounded however long the outage
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every Every until ctx ends, then once more.
func (t *Tally) Run(ctx context.Context) error {
	tick := time.NewTicker(t.Every)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := t.Flush(fctx); err != nil {
				t.log.Warn("rejection counts of the last seconds not stored", "error", err)
			}
			return nil
		case <-tick.C:
			fctx, cancel := context.WithTimeout(ctx, t.Every)
			err := t.Flush(fctx)
			cancel()
			if err != nil && !failing {
				t.log.Warn("rejection counts not stored; kept for the next try", "error", err)
			}
			failing = err != nil
		}
	}
}

var (
	_ Observer         = (*Tally)(nil)
	_ BreakerObserver  = (*Tally)(nil)
	_ CreativeObserver = (*Tally)(nil)
	_ CommitObserver   = (*Tally)(nil)
)
