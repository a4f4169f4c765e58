// Package logbuf is the log's buffered writer: log lines collect in memory
// and reach the file (or stderr) in one write when the buffer fills, on a
// short interval and on Close, instead of one write system call per line.
// Warn and error lines are written at once (Handler), so what an operator
// must see is never held back, and Close loses nothing.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer buffers whole writes (slog writes one line per call) up to size
// bytes. It is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	buf    []byte
	size   int
	err    error // the last write error, returned by the next Flush
	closed bool

	stop chan struct{}
	done chan struct{}
}

// New buffers writes to out up to size bytes and flushes them every
// interval. Close it to write what is left and stop the flushing.
func New(out io.Writer, size int, interval time.Duration) *Writer {
	t := time.NewTicker(interval)
	w := newWriter(out, size, t.C)
	go func() {
		<-w.done
		t.Stop()
	}()
	return w
}

// NewWithTicks is New with the flushes driven by ticks instead of a ticker
// (for tests: each value sent is one interval passing).
func NewWithTicks(out io.Writer, size int, ticks <-chan time.Time) *Writer {
	return newWriter(out, size, ticks)
}

func newWriter(out io.Writer, size int, ticks <-chan time.Time) *Writer {
	w := &Writer{out: out, size: size, buf: make([]byte, 0, size),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(ticks)
	return w
}

func (w *Writer) run(ticks <-chan time.Time) {
	defer close(w.done)
	for {
		select {
		case <-ticks:
			w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Write buffers p, writing the buffer first if p would not fit; a p as large
// as the buffer is written through. After Close, writes go straight to the
// output: a line logged during shutdown is not lost.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.size {
		w.flushLocked()
	}
	if len(p) >= w.size {
		if _, err := w.out.Write(p); err != nil {
			w.err = err
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// Flush writes what is buffered. It returns the first write error since the
// last Flush: a failed write is reported, and its lines are not retried (a
// log that cannot be written must not grow without bound).
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	err := w.err
	w.err = nil
	return err
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.out.Write(w.buf); err != nil && w.err == nil {
		w.err = err
	}
	w.buf = w.buf[:0]
}

// Close stops the interval flushes and writes what is buffered. Later writes
// go straight through. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	// Flushed and closed under one lock: a write racing Close lands after
	// every buffered line, never before.
	w.flushLocked()
	w.closed = true
	err := w.err
	w.err = nil
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return err
}

// Handler wraps h, which writes to w, so that a record at warn or above is
// written at once, with every line buffered before it (so the order stays).
func (w *Writer) Handler(h slog.Handler) slog.Handler { return flushing{h, w} }

type flushing struct {
	slog.Handler
	w *Writer
}

func (f flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := f.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{f.Handler.WithAttrs(attrs), f.w}
}

func (f flushing) WithGroup(name string) slog.Handler {
	return flushing{f.Handler.WithGroup(name), f.w}
}
