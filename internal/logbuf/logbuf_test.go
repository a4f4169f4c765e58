package logbuf_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/logbuf"
)

// sink records every write the buffered writer makes to its output.
type sink struct {
	mu     sync.Mutex
	writes []string
	fail   error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

func line(c byte, n int) string { return strings.Repeat(string(c), n-1) + "\n" }

// newWriter is a writer whose interval passes only when the test says so.
func newWriter(t *testing.T, out *sink, size int) (*logbuf.Writer, chan time.Time) {
	t.Helper()
	ticks := make(chan time.Time)
	w := logbuf.NewWithTicks(out, size, ticks)
	t.Cleanup(func() { w.Close() })
	return w, ticks
}

func TestFlushesWhenTheBufferFills(t *testing.T) {
	out := &sink{}
	w, _ := newWriter(t, out, 100)
	a, b, c := line('a', 40), line('b', 40), line('c', 40)
	w.Write([]byte(a))
	w.Write([]byte(b))
	if got := out.got(); len(got) != 0 {
		t.Fatalf("80 of 100 bytes written before the buffer filled: %q", got)
	}
	w.Write([]byte(c))
	if got := out.got(); len(got) != 1 || got[0] != a+b {
		t.Fatalf("a line that does not fit must write the buffer first, in one write: %q", got)
	}
	big := line('d', 150)
	w.Write([]byte(big))
	if got := out.got(); len(got) != 3 || got[1] != c || got[2] != big {
		t.Fatalf("a line larger than the buffer goes through, after what was buffered: %q", got)
	}
}

func TestFlushesEveryInterval(t *testing.T) {
	out := &sink{}
	w, ticks := newWriter(t, out, 1<<16)
	w.Write([]byte(line('a', 10)))
	w.Write([]byte(line('b', 10)))
	if got := out.got(); len(got) != 0 {
		t.Fatalf("written before the interval: %q", got)
	}
	// The second tick is received only once the first one's flush is done.
	ticks <- time.Time{}
	ticks <- time.Time{}
	if got := out.got(); len(got) != 1 || got[0] != line('a', 10)+line('b', 10) {
		t.Fatalf("after an interval: %q, want both lines in one write", got)
	}
	ticks <- time.Time{}
	ticks <- time.Time{}
	if got := out.got(); len(got) != 1 {
		t.Fatalf("an empty buffer was written: %q", got)
	}
}

func TestWarnAndErrorAreWrittenAtOnce(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelError} {
		out := &sink{}
		w, _ := newWriter(t, out, 1<<16)
		log := slog.New(w.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))).With("component", "test")
		log.Debug("first")
		log.Info("second")
		if got := out.got(); len(got) != 0 {
			t.Fatalf("debug and info lines written at once: %q", got)
		}
		log.Log(context.Background(), level, "third")
		got := out.got()
		if len(got) != 1 || strings.Count(got[0], "\n") != 3 {
			t.Fatalf("%s: %q, want the three lines in one write", level, got)
		}
		if i, j, k := strings.Index(got[0], "first"), strings.Index(got[0], "second"), strings.Index(got[0], "third"); !(i < j && j < k) || i < 0 {
			t.Errorf("%s: lines out of order: %q", level, got[0])
		}
		if !strings.Contains(got[0], `"level":"`+level.String()+`"`) || !strings.Contains(got[0], `"component":"test"`) {
			t.Errorf("%s line lost its level or attributes: %q", level, got[0])
		}
	}
}

func TestCloseWritesEverythingAndLaterLinesGoThrough(t *testing.T) {
	out := &sink{}
	w, _ := newWriter(t, out, 1<<16)
	w.Write([]byte(line('a', 10)))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.got(); len(got) != 1 || got[0] != line('a', 10) {
		t.Fatalf("after Close: %q", got)
	}
	w.Write([]byte(line('b', 10)))
	if got := out.got(); len(got) != 2 || got[1] != line('b', 10) {
		t.Fatalf("a line after Close was not written at once: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestWriteErrorIsReportedOnce(t *testing.T) {
	out := &sink{fail: errors.New("disk full")}
	w, _ := newWriter(t, out, 1<<16)
	w.Write([]byte(line('a', 10)))
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush: %v, want the write error", err)
	}
	out.mu.Lock()
	out.fail = nil
	out.mu.Unlock()
	if err := w.Flush(); err != nil {
		t.Fatalf("a reported error came back: %v", err)
	}
	w.Write([]byte(line('b', 10)))
	w.Flush()
	if got := out.got(); len(got) != 1 || got[0] != line('b', 10) {
		t.Fatalf("after the error: %q (a failed line is not retried, a later one is written)", got)
	}
}

func TestRealTickerFlushes(t *testing.T) {
	// New with a real interval: the line arrives without Flush or Close.
	out := &sink{}
	w := logbuf.New(out, 1<<16, time.Millisecond)
	defer w.Close()
	w.Write([]byte(line('a', 10)))
	for len(out.got()) == 0 {
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkLogLineToFile is one auction-sized info line to a file: a write
// per line (log.buffer 0) against the buffer.
func BenchmarkLogLineToFile(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		name := "direct"
		if buffered {
			name = "buffered"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "bridge.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var out io.Writer = f
			h := slog.Handler(nil)
			if buffered {
				w := logbuf.New(f, 64<<10, 200*time.Millisecond)
				defer w.Close()
				out = w
				h = w.Handler(slog.NewJSONHandler(out, nil))
			} else {
				h = slog.NewJSONHandler(out, nil)
			}
			log := slog.New(h)
			ctx := context.Background()
			b.ReportAllocs()
			// CPU time, not wall time, is the figure on a shared machine:
			// the process's user+system time per line, the flusher included.
			cpu0 := cpuTime()
			defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
			for b.Loop() {
				{
					log.LogAttrs(ctx, slog.LevelInfo, "auction", slog.String("request_id", "3f2a1b9c8d7e6f50"),
						slog.String("method", "POST"), slog.String("path", "/bid"), slog.Int("status", 200),
						slog.Int("bytes", 180), slog.Float64("duration_ms", 6.93), slog.String("auction_id", "b3c1d2e4f5a6"),
						slog.String("outcome", "won"), slog.Int("slots", 1), slog.Int("wins", 1),
						slog.Any("ext_ids", []string{"wAZ7xQ1k2r9Tq3Zp0aB1cD"}), slog.Int("rejected", 0),
						slog.Int("dsps_called", 1), slog.Group("dsps", slog.String("alpha", "bid")), slog.Float64("auction_ms", 6.1))
				}
			}
		})
	}
}

// cpuTime is the user and system time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
