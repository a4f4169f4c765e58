package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// batcher is a group commit: callers hand it one item each and wait; one
// committer goroutine takes whatever has queued up (at most max items),
// commits it with one call of commit, and hands every caller its own
// result. While a commit runs the next group accumulates, so there is no
// fixed delay: a lone caller is committed at once, a crowd shares commits.
type batcher[T, R any] struct {
	max    int
	commit func([]*call[T, R])
	q      chan *call[T, R]

	mu     sync.RWMutex // guards closed against sends on a closed q
	closed bool
	done   chan struct{} // closed once the committers have drained q
}

// call is one caller's item and, once done is closed, its result.
type call[T, R any] struct {
	ctx  context.Context
	in   T
	out  R
	err  error
	done chan struct{}
}

// errBatcherClosed: the batcher was closed before the item was queued.
var errBatcherClosed = errors.New("events: batcher closed")

// newBatcher starts a committer that commits up to max items at a time; at
// most queue items wait for it (callers beyond that wait to queue).
// commit must set out or err of every call it is given.
func newBatcher[T, R any](max, queue, committers int, commit func([]*call[T, R])) *batcher[T, R] {
	max, committers = maxInt(max, 1), maxInt(committers, 1)
	b := &batcher[T, R]{max: max, commit: commit, q: make(chan *call[T, R], maxInt(queue, max)), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.run()
		}()
	}
	go func() {
		wg.Wait()
		close(b.done)
	}()
	return b
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// do queues in and waits for its result. It returns ctx's error if ctx ends
// first; the item may still be committed then (committing is idempotent,
// and commit sees the item's ctx to skip it if it has not started yet).
func (b *batcher[T, R]) do(ctx context.Context, in T) (R, error) {
	c := &call[T, R]{ctx: ctx, in: in, done: make(chan struct{})}
	var zero R
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, errBatcherClosed
	}
	select {
	case b.q <- c:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return zero, ctx.Err()
	}
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (b *batcher[T, R]) run() {
	group := make([]*call[T, R], 0, b.max)
	for c := range b.q {
		group = append(group[:0], c)
	fill:
		for len(group) < b.max {
			select {
			case c, ok := <-b.q:
				if !ok {
					break fill
				}
				group = append(group, c)
			default:
				break fill
			}
		}
		// Callers that gave up before their commit started are not
		// committed: they answered (and kept the item elsewhere) already.
		live := group[:0]
		for _, c := range group {
			if err := c.ctx.Err(); err != nil {
				c.err = err
				close(c.done)
				continue
			}
			live = append(live, c)
		}
		if len(live) > 0 {
			b.safeCommit(live)
			for _, c := range live {
				close(c.done)
			}
		}
		clear(group)
	}
}

// safeCommit runs commit; if it panics, every call of the group gets an
// error (its caller then keeps the item elsewhere) and the committer goes
// on: a bug in one group must not take the process, and every later view,
// down with it.
func (b *batcher[T, R]) safeCommit(calls []*call[T, R]) {
	defer func() {
		if r := recover(); r != nil {
			var zero R
			for _, c := range calls {
				c.out, c.err = zero, fmt.Errorf("events: group commit panicked: %v", r)
			}
		}
	}()
	b.commit(calls)
}

// close stops taking items, commits every queued one and returns once the
// last commit has finished. Later do calls get errBatcherClosed.
func (b *batcher[T, R]) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.q)
	}
	b.mu.Unlock()
	<-b.done
}
