package auction

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/adshares/dsp-bridge/store"
)

// Saver stores wins durably before /bid answers.
type Saver interface {
	Save(ctx context.Context, wins []store.Auction) error
}

// Batcher groups the wins of concurrent auctions into one transaction, so
// that under load the database sees one commit per batch, not per auction.
// A few writers run at once so one slow commit does not stall every auction.
type Batcher struct {
	st       *store.Store
	log      *slog.Logger
	queue    chan *saveJob
	maxBatch int
	wg       sync.WaitGroup
	stop     chan struct{}
	once     sync.Once
	// rel, once set (Auctioneer.SetStore), has its queued releases of
	// held win notices committed with the next batch of wins: under load
	// they then cost no commit (and no WAL flush) of their own.
	rel atomic.Pointer[releaser]
}

type saveJob struct {
	ctx  context.Context
	wins []store.Auction
	done chan error
}

// NewBatcher starts writers goroutines (at least one) that write batches
// of up to maxBatch auctions' wins. Close stops them.
func NewBatcher(st *store.Store, log *slog.Logger, writers, maxBatch int) *Batcher {
	writers, maxBatch = max(writers, 1), max(maxBatch, 1) // a config built in code may leave them 0
	b := &Batcher{st: st, log: log, queue: make(chan *saveJob, writers*maxBatch), maxBatch: maxBatch, stop: make(chan struct{})}
	for range writers {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// Save queues the wins and waits until they are committed, or ctx ends.
// An error means the wins may not be stored: the caller answers no bid.
func (b *Batcher) Save(ctx context.Context, wins []store.Auction) error {
	if len(wins) == 0 {
		return nil
	}
	job := &saveJob{ctx: ctx, wins: wins, done: make(chan error, 1)}
	select {
	case b.queue <- job:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return errors.New("bridge: batcher closed")
	}
	select {
	case err := <-job.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Batcher) run() {
	defer b.wg.Done()
	jobs := make([]*saveJob, 0, b.maxBatch)
	for {
		select {
		case <-b.stop:
			return
		case j := <-b.queue:
			jobs = append(jobs[:0], j)
		}
		// Take whatever else is already waiting: no timer, so a lone
		// auction is never delayed to wait for company.
	fill:
		for len(jobs) < b.maxBatch {
			select {
			case j := <-b.queue:
				jobs = append(jobs, j)
			default:
				break fill
			}
		}
		b.write(jobs)
	}
}

// write commits the jobs still waiting in one transaction. If that fails
// and there were several, each is retried alone, so one bad row cannot
// cost the other auctions their wins.
func (b *Batcher) write(jobs []*saveJob) {
	live := jobs[:0]
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			j.done <- j.ctx.Err() // its /bid already answered []: do not store a win nobody will see
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := latestDeadline(live)
	defer cancel()
	var all []store.Auction
	for _, j := range live {
		all = append(all, j.wins...)
	}
	rel, released, later := b.rel.Load(), []releaseJob(nil), []releaseJob(nil)
	var release []string
	if rel != nil {
		for _, j := range rel.take(256) {
			if j.written {
				released, release = append(released, j), append(release, j.extIDs...)
			} else {
				later = append(later, j) // a cancel: its own statement, after the answers
			}
		}
	}
	var err error
	if len(release) > 0 {
		var n int64
		if n, err = b.st.InsertAuctionsReleasing(ctx, all, release, rel.now()); err == nil && n > 0 && rel.notify != nil {
			rel.notify()
		}
		if err != nil {
			later = append(later, released...) // not committed: released on their own
		}
	} else {
		err = b.st.InsertAuctions(ctx, all)
	}
	if len(later) > 0 {
		defer rel.apply(later)
	}
	if err == nil || len(live) == 1 {
		for _, j := range live {
			j.done <- err
		}
		if err != nil {
			b.log.Error("storing wins failed", "error", err, "wins", len(all))
		}
		return
	}
	b.log.Warn("batched win insert failed; retrying one by one", "error", err, "auctions", len(live))
	for _, j := range live {
		j.done <- b.st.InsertAuctions(j.ctx, j.wins)
	}
}

// latestDeadline is a context that lives as long as the most patient job.
func latestDeadline(jobs []*saveJob) (context.Context, context.CancelFunc) {
	var latest context.Context = jobs[0].ctx
	for _, j := range jobs[1:] {
		d1, ok1 := j.ctx.Deadline()
		d0, ok0 := latest.Deadline()
		if !ok1 || (ok0 && d1.After(d0)) {
			latest = j.ctx
		}
	}
	if d, ok := latest.Deadline(); ok {
		return context.WithDeadline(context.Background(), d)
	}
	return context.WithCancel(context.Background())
}

// Close stops the writers; queued jobs fail with their context.
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}
