package auction

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// DeliveryStore is what delivering markup wins needs of the database beyond
// storing the wins (*store.Store): releasing or cancelling held win notices
// once the /bid answer is known, and storing large public creatives ahead
// of their first win.
type DeliveryStore interface {
	ReleaseWinNotices(ctx context.Context, extIDs []string, at time.Time) (int64, error)
	CancelWinNotices(ctx context.Context, extIDs []string) (int64, error)
	StoreCreative(ctx context.Context, c *store.Creative) error
}

// releaser makes held win notices due (or drops them) after the handler has
// written (or failed to write) the /bid answer. Concurrent answers share one
// statement: a queue drained by one goroutine, like the win batcher, so the
// database sees one UPDATE per batch rather than one per auction. If it
// cannot keep up, or the database is down, nothing is lost: a held notice
// fires by itself when its hold passes (at least once), a cancelled one that
// could not be deleted likewise (the one case where a DSP hears of a win
// the AdServer never got; the hold is what bounds that window).
type releaser struct {
	st     DeliveryStore
	notify func() // wakes the outbox worker
	log    *slog.Logger
	now    func() time.Time

	queue chan releaseJob
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

type releaseJob struct {
	extIDs  []string
	written bool
}

func newReleaser(st DeliveryStore, notify func(), log *slog.Logger) *releaser {
	r := &releaser{st: st, notify: notify, log: log, now: time.Now, queue: make(chan releaseJob, 1024), stop: make(chan struct{})}
	r.wg.Add(1)
	go r.run()
	return r
}

// done queues the outcome of one answer: written releases its win
// notices, !written cancels them.
func (r *releaser) done(extIDs []string, written bool) {
	if r == nil || len(extIDs) == 0 {
		return
	}
	select {
	case r.queue <- releaseJob{extIDs, written}:
	default:
		// The queue is full: do it here rather than let it wait for the hold.
		r.apply([]releaseJob{{extIDs, written}})
	}
}

// take drains up to n queued jobs without waiting, for a win batch that
// commits them with its wins (Batcher.write).
func (r *releaser) take(n int) []releaseJob {
	var jobs []releaseJob
	for len(jobs) < n {
		select {
		case j := <-r.queue:
			jobs = append(jobs, j)
		default:
			return jobs
		}
	}
	return jobs
}

func (r *releaser) run() {
	defer r.wg.Done()
	for {
		var jobs []releaseJob
		select {
		case j := <-r.queue:
			jobs = append(jobs, j)
		case <-r.stop:
			// Release what is still queued, then stop.
			for {
				select {
				case j := <-r.queue:
					jobs = append(jobs, j)
				default:
					r.apply(jobs)
					return
				}
			}
		}
	fill:
		for len(jobs) < 256 {
			select {
			case j := <-r.queue:
				jobs = append(jobs, j)
			default:
				break fill
			}
		}
		r.apply(jobs)
	}
}

func (r *releaser) apply(jobs []releaseJob) {
	var release, cancel []string
	for _, j := range jobs {
		if j.written {
			release = append(release, j.extIDs...)
		} else {
			cancel = append(cancel, j.extIDs...)
		}
	}
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if len(release) > 0 {
		if n, err := r.st.ReleaseWinNotices(ctx, release, r.now()); err != nil {
			r.log.Warn("win notices not released; they fire when their hold passes", "wins", len(release), "error", err)
		} else if n > 0 && r.notify != nil {
			r.notify()
		}
	}
	if len(cancel) > 0 {
		if _, err := r.st.CancelWinNotices(ctx, cancel); err != nil {
			r.log.Error("win notices of unanswered wins not cancelled; they fire when their hold passes", "wins", len(cancel), "error", err)
		}
	}
}

// close releases what is queued and stops.
func (r *releaser) close() {
	if r == nil {
		return
	}
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
}
