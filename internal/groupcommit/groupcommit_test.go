package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// gate is a commit function that holds its first group until released, so
// that a test can let other callers queue up behind it.
type gate struct {
	mu      sync.Mutex
	groups  [][]int
	started chan struct{} // closed when the first group is in commit
	release chan struct{}
	fail    map[int]bool
}

func newGate() *gate {
	return &gate{started: make(chan struct{}), release: make(chan struct{}), fail: map[int]bool{}}
}

func (g *gate) commit(calls []*Call[int, string]) {
	g.mu.Lock()
	first := len(g.groups) == 0
	var group []int
	for _, c := range calls {
		group = append(group, c.In)
	}
	g.groups = append(g.groups, group)
	g.mu.Unlock()
	if first {
		close(g.started)
		<-g.release
	}
	for _, c := range calls {
		if g.fail[c.In] {
			c.Err = fmt.Errorf("item %d refused", c.In)
			continue
		}
		c.Out = fmt.Sprintf("done %d", c.In)
	}
}

// waitQueued returns once n calls wait in b's queue.
func waitQueued[T, R any](b *Batcher[T, R], n int) {
	for len(b.q) < n {
		runtime.Gosched()
	}
}

// Many concurrent callers: each gets its own result, those that queued
// while a group committed share the next group, and one refused item fails
// alone.
func TestBatcherGivesEachCallerItsOwnResult(t *testing.T) {
	g := newGate()
	g.fail[7] = true
	b := New(100, 100, 1, g.commit)
	defer b.Close()
	const n = 50
	results := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		results[0], errs[0] = b.Do(context.Background(), 0)
	}()
	<-g.started
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.Do(context.Background(), i)
		}()
	}
	waitQueued(b, n-1)
	close(g.release)
	wg.Wait()
	for i := range n {
		if i == 7 {
			if errs[i] == nil || results[i] != "" {
				t.Errorf("item 7: %q, %v; want its own error", results[i], errs[i])
			}
			continue
		}
		if errs[i] != nil || results[i] != fmt.Sprintf("done %d", i) {
			t.Errorf("item %d: %q, %v", i, results[i], errs[i])
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.groups) != 2 || len(g.groups[0]) != 1 || len(g.groups[1]) != n-1 {
		t.Errorf("groups = %v, want the first alone and the other %d together", g.groups, n-1)
	}
}

// A group is at most max items; the rest wait for the next.
func TestBatcherGroupsAtMostMax(t *testing.T) {
	g := newGate()
	b := New(4, 16, 1, g.commit)
	defer b.Close()
	var wg sync.WaitGroup
	call := func(i int) {
		defer wg.Done()
		if _, err := b.Do(context.Background(), i); err != nil {
			t.Error(err)
		}
	}
	wg.Add(1)
	go call(0)
	<-g.started
	for i := 1; i <= 10; i++ {
		wg.Add(1)
		go call(i)
	}
	waitQueued(b, 10)
	close(g.release)
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	total := 0
	for _, gr := range g.groups {
		if len(gr) > 4 {
			t.Errorf("group of %d > max 4: %v", len(gr), g.groups)
		}
		total += len(gr)
	}
	if total != 11 || len(g.groups) != 4 { // 1, then 4 + 4 + 2
		t.Errorf("groups = %v", g.groups)
	}
}

// close commits every queued item before it returns; a later call is
// refused with ErrClosed (its caller stores the item itself).
func TestBatcherCloseDrainsTheQueue(t *testing.T) {
	g := newGate()
	b := New(2, 16, 1, g.commit)
	const n = 9
	errs := make(chan error, n)
	for i := range n {
		go func() {
			out, err := b.Do(context.Background(), i)
			if err == nil && out != fmt.Sprintf("done %d", i) {
				err = fmt.Errorf("item %d got %q", i, out)
			}
			errs <- err
		}()
		if i == 0 {
			<-g.started
		}
	}
	waitQueued(b, n-1)
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	close(g.release)
	<-closed
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := b.Do(context.Background(), 99); !errors.Is(err, ErrClosed) {
		t.Errorf("do after close: %v, want ErrClosed", err)
	}
	b.Close() // twice is harmless
}

// A caller whose context ends stops waiting at once, whatever its group is
// doing; one that gave up before its group started is not committed.
func TestBatcherCallerContextCancel(t *testing.T) {
	g := newGate()
	b := New(8, 16, 1, g.commit)
	defer b.Close()
	first := make(chan error, 1)
	ctx0, cancel0 := context.WithCancel(context.Background())
	go func() {
		_, err := b.Do(ctx0, 0)
		first <- err
	}()
	<-g.started
	// Item 0 is being committed: its caller gives up, the commit goes on.
	cancel0()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	// Item 1 queues behind it and gives up while still queued; item 2 waits.
	ctx1, cancel1 := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := b.Do(ctx1, 1)
		second <- err
	}()
	waitQueued(b, 1)
	cancel1()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queued caller: %v", err)
	}
	third := make(chan string, 1)
	go func() {
		out, _ := b.Do(context.Background(), 2)
		third <- out
	}()
	waitQueued(b, 2)
	close(g.release)
	if out := <-third; out != "done 2" {
		t.Fatalf("caller after the cancelled ones: %q", out)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.groups) != 2 || fmt.Sprint(g.groups[1]) != "[2]" {
		t.Errorf("groups = %v, want [0] then [2] (1 gave up before its group)", g.groups)
	}
}

// A caller whose context ends while the queue is full gives up without
// queuing.
func TestBatcherFullQueueHonoursContext(t *testing.T) {
	g := newGate()
	b := New(1, 1, 1, g.commit)
	go b.Do(context.Background(), 0)
	<-g.started
	go b.Do(context.Background(), 1)
	waitQueued(b, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Do(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("full queue, cancelled: %v", err)
	}
	close(g.release)
	b.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	if fmt.Sprint(g.groups) != "[[0] [1]]" {
		t.Errorf("groups = %v", g.groups)
	}
}

// A commit that panics fails its group with an error, never a result, and
// the committer goes on with the next group.
func TestBatcherPanickingCommitFailsOnlyItsGroup(t *testing.T) {
	calls := 0
	b := New(8, 8, 1, func(cs []*Call[int, string]) {
		calls++
		for _, c := range cs {
			c.Out = "partial"
		}
		if cs[0].In == 0 {
			panic("boom")
		}
	})
	defer b.Close()
	if out, err := b.Do(context.Background(), 0); err == nil || out != "" {
		t.Errorf("panicked group: %q, %v; want an error and no result", out, err)
	}
	if out, err := b.Do(context.Background(), 1); err != nil || out != "partial" {
		t.Errorf("next group: %q, %v", out, err)
	}
	if calls != 2 {
		t.Errorf("%d commits, want 2", calls)
	}
}
