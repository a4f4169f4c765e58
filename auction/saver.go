package auction

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// Saver stores wins durably before /bid answers.
type Saver interface {
	Save(ctx context.Context, wins []store.Auction) error
}

// Batcher groups the wins of concurrent auctions into one transaction, so
// that under load the database sees one commit per batch, not per auction.
// At most writers transactions run at once (slots; database.win_writers,
// one by default: the biggest batches, the commits wait for the same WAL
// flush anyway; more let wins go on through another connection while one
// hangs). An auction that finds a slot free, nobody waiting and no other
// auction running writes its wins itself (and the queued releases of held
// notices): no hand-off to a writer goroutine and back, two goroutine
// wake-ups fewer on the path of a lone /bid. The others queue for the
// writer goroutines, which take a slot as one frees and write the queue in
// batches, waiting up to the commit delay (database.win_commit_delay) for
// the auctions still running to join (commitdelay.go).
type Batcher struct {
	st       *store.Store
	log      *slog.Logger
	queue    chan *saveJob
	slots    chan struct{} // one token per transaction under way (writers)
	maxBatch int
	wg       sync.WaitGroup
	stop     chan struct{}
	once     sync.Once
	// delay, expecting and idle: see commitdelay.go.
	delay     time.Duration
	expecting atomic.Int64
	idle      chan struct{}
	commits   CommitObserver // nil: none
	// applying tracks the cancels of held notices that an auction writing
	// its own wins leaves to a goroutine, so as not to answer after them;
	// closed (under mu) stops new ones once Close waits.
	mu       sync.Mutex
	closed   bool
	applying sync.WaitGroup
	// rel, once set (Auctioneer.SetStore), has its queued releases of
	// held win notices committed with the next batch of wins: under load
	// they then cost no commit (and no WAL flush) of their own.
	rel atomic.Pointer[releaser]
}

type saveJob struct {
	ctx  context.Context
	wins []store.Auction
	done chan error // nil for a job Save writes itself, which reads err
	err  error
}

// finish hands the job its result: on done to the Save waiting for a queued
// job, in err for the one writing its own (no channel for it to make).
func (j *saveJob) finish(err error) {
	if j.done == nil {
		j.err = err
		return
	}
	j.done <- err
}

// BatcherOptions shape a Batcher's transactions.
type BatcherOptions struct {
	Writers     int           // transactions at once (database.win_writers)
	MaxBatch    int           // auctions' wins in one transaction at most
	CommitDelay time.Duration // how long a commit waits for running auctions (database.win_commit_delay)
	Observer    Observer      // told of each commit if it is a CommitObserver (nil: none)
}

// CommitObserver may be implemented by an Observer that also wants each
// commit of wins: how many auctions shared it (metrics).
type CommitObserver interface {
	ObserveWinCommit(auctions int)
}

// NewBatcher starts o.Writers goroutines (at least one) that write batches
// of up to o.MaxBatch auctions' wins. Close stops them.
func NewBatcher(st *store.Store, log *slog.Logger, o BatcherOptions) *Batcher {
	writers, maxBatch := max(o.Writers, 1), max(o.MaxBatch, 1) // a config built in code may leave them 0
	b := &Batcher{st: st, log: log, queue: make(chan *saveJob, writers*maxBatch), slots: make(chan struct{}, writers),
		maxBatch: maxBatch, stop: make(chan struct{}), delay: max(o.CommitDelay, 0), idle: make(chan struct{}, 1)}
	b.commits, _ = o.Observer.(CommitObserver)
	for range writers {
		b.wg.Add(1)
		go b.run()
	}
	return b
}

// Save queues the wins and waits until they are committed, or ctx ends.
// An error means the wins may not be stored: the caller answers no bid.
func (b *Batcher) Save(ctx context.Context, wins []store.Auction) error {
	return b.save(ctx, wins, nil)
}

// save is Save for an auction counted by expect: arrived (if not nil) is
// called once its wins are queued or being written, or it gives up.
func (b *Batcher) save(ctx context.Context, wins []store.Auction, arrived func()) error {
	self := int64(0)
	if arrived != nil {
		self = 1
		defer arrived()
	} else {
		arrived = func() {}
	}
	if len(wins) == 0 {
		return nil
	}
	job := &saveJob{ctx: ctx, wins: wins}
	select {
	case <-b.stop:
		return errors.New("bridge: batcher closed")
	default:
	}
	if len(b.queue) == 0 && !b.company(self) {
		select {
		case b.slots <- struct{}{}:
			// A free slot, nobody queued and nobody to wait for: write
			// here, alone, so that the commit is bounded by this
			// auction's own deadline.
			arrived()
			later := b.write([]*saveJob{job})
			<-b.slots
			b.applyLater(later)
			return job.err
		default:
		}
	}
	job.done = make(chan error, 1) // queued: a writer answers it
	select {
	case b.queue <- job:
		arrived() // after the queue: a writer that sees nobody left running finds it there
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
	timer := time.NewTimer(time.Hour) // the commit delay's, reset by wait
	timer.Stop()
	for {
		select {
		case <-b.stop:
			return
		case j := <-b.queue:
			jobs = append(jobs[:0], j)
		}
		b.slots <- struct{}{}
		jobs = b.wait(b.fill(jobs), timer)
		later := b.write(jobs)
		<-b.slots
		if len(later) > 0 {
			b.rel.Load().apply(later) // after the answers
		}
	}
}

// fill adds whatever else is already queued, up to maxBatch jobs: no
// timer, so a lone auction is never delayed to wait for company.
func (b *Batcher) fill(jobs []*saveJob) []*saveJob {
	for len(jobs) < b.maxBatch {
		select {
		case j := <-b.queue:
			jobs = append(jobs, j)
		default:
			return jobs
		}
	}
	return jobs
}

// applyLater applies, in a goroutine Close waits for, the releases an
// auction writing its own wins took but could not commit with them.
func (b *Batcher) applyLater(later []releaseJob) {
	if len(later) == 0 {
		return
	}
	rel := b.rel.Load()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		rel.apply(later)
		return
	}
	b.applying.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.applying.Done()
		rel.apply(later)
	}()
}

// write commits the jobs still waiting in one transaction. If that fails
// and there were several, each is retried alone, so one bad row cannot
// cost the other auctions their wins. It returns the releases of held
// notices it took but did not commit (cancels, and releases of a batch
// that failed), for the caller to apply once the answers are out.
func (b *Batcher) write(jobs []*saveJob) []releaseJob {
	live := jobs[:0]
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			j.finish(j.ctx.Err()) // its /bid already answered []: do not store a win nobody will see
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return nil
	}
	ctx, cancel := latestDeadline(live)
	defer cancel()
	// One job's wins are stored as they are (the store only reads them);
	// several are copied into one slice, allocated once.
	all := live[0].wins
	if len(live) > 1 {
		n := 0
		for _, j := range live {
			n += len(j.wins)
		}
		all = make([]store.Auction, 0, n)
		for _, j := range live {
			all = append(all, j.wins...)
		}
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
	if err == nil || len(live) == 1 {
		if err == nil {
			b.committed(len(live))
		}
		for _, j := range live {
			j.finish(err)
		}
		if err != nil {
			b.log.Error("storing wins failed", "error", err, "wins", len(all))
		}
		return later
	}
	b.log.Warn("batched win insert failed; retrying one by one", "error", err, "auctions", len(live))
	for _, j := range live {
		err := b.st.InsertAuctions(j.ctx, j.wins)
		if err == nil {
			b.committed(1)
		}
		j.finish(err)
	}
	return later
}

// committed tells the observer a commit stored the wins of n auctions.
func (b *Batcher) committed(n int) {
	if b.commits != nil {
		b.commits.ObserveWinCommit(n)
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
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.applying.Wait()
}
