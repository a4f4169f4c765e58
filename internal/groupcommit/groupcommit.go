// Package groupcommit lets many concurrent callers share one commit: the
// bridge's views (package events) and the bench's durable floor of a view
// (package bench) both store their items through it, so what the floor
// measures is the same queueing the bridge pays.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Batcher is a group commit: callers hand it one item each and wait; a
// committer goroutine takes whatever has queued up (at most max items),
// commits it with one call of commit, and hands every caller its own
// result. While a commit runs the next group accumulates, so there is no
// fixed delay: a lone caller is committed at once, a crowd shares commits.
type Batcher[T, R any] struct {
	max    int
	commit func([]*Call[T, R])
	q      chan *Call[T, R]

	mu     sync.RWMutex // guards closed against sends on a closed q
	closed bool
	done   chan struct{} // closed once the committers have drained q
}

// Call is one caller's item and, once its commit has returned, its result:
// commit sets Out or Err of every Call it is given.
type Call[T, R any] struct {
	In  T
	Out R
	Err error

	ctx  context.Context
	done chan struct{}
}

// NewCall is a Call of in that is not queued: for calling a commit
// function directly (its tests).
func NewCall[T, R any](ctx context.Context, in T) *Call[T, R] {
	return &Call[T, R]{ctx: ctx, In: in, done: make(chan struct{})}
}

// ErrClosed: the Batcher was closed before the item was queued.
var ErrClosed = errors.New("groupcommit: closed")

// New starts committers goroutines, each committing up to size items at a
// time; at most queue items wait for them (callers beyond that wait to
// queue). commit must set Out or Err of every Call it is given.
func New[T, R any](size, queue, committers int, commit func([]*Call[T, R])) *Batcher[T, R] {
	size, committers = max(size, 1), max(committers, 1)
	b := &Batcher[T, R]{max: size, commit: commit, q: make(chan *Call[T, R], max(queue, size)), done: make(chan struct{})}
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

// Do queues in and waits for its result. It returns ctx's error if ctx ends
// first; the item may still be committed then (committing is idempotent,
// and commit sees the item's ctx to skip it if it has not started yet).
func (b *Batcher[T, R]) Do(ctx context.Context, in T) (R, error) {
	c := NewCall[T, R](ctx, in)
	var zero R
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, ErrClosed
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
		return c.Out, c.Err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (b *Batcher[T, R]) run() {
	group := make([]*Call[T, R], 0, b.max)
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
				c.Err = err
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
// on: a bug in one group must not take the process, and every later item,
// down with it.
func (b *Batcher[T, R]) safeCommit(calls []*Call[T, R]) {
	defer func() {
		if r := recover(); r != nil {
			var zero R
			for _, c := range calls {
				c.Out, c.Err = zero, fmt.Errorf("groupcommit: commit panicked: %v", r)
			}
		}
	}()
	b.commit(calls)
}

// Close stops taking items, commits every queued one and returns once the
// last commit has finished. Later Do calls get ErrClosed.
func (b *Batcher[T, R]) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.q)
	}
	b.mu.Unlock()
	<-b.done
}
