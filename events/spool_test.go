package events

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func rec(i int) Record {
	return Record{Type: View, ExtID: fmt.Sprintf("e%d", i), CaseID: fmt.Sprintf("%032x", i), RateNanos: 50_000_000,
		At: time.Unix(1700000000, int64(i)).UTC()}
}

func TestSpoolAppendReplayDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Append(rec(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st, _ := s.State(); st.Segments != 1 || st.Bytes == 0 {
		t.Fatalf("state = %+v", st)
	}
	seen := map[string]Record{}
	n, err := s.Replay(func(r Record) error { seen[r.ExtID] = r; return nil })
	if err != nil || n != 50 || len(seen) != 50 {
		t.Fatalf("replayed %d (%d distinct), %v", n, len(seen), err)
	}
	if got := seen["e7"]; got != rec(7) {
		t.Fatalf("record e7 came back as %+v", got)
	}
	if st, _ := s.State(); st.Segments != 0 {
		t.Fatalf("segments left after replay: %+v", st)
	}
	s.Close()
}

func TestSpoolSurvivesReopenAndTornLine(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSpool(dir); err == nil {
		t.Fatal("a second process could open the same spool")
	}
	for i := range 3 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Simulate a crash in the middle of a fourth append.
	s.mu.Lock()
	s.f.Write([]byte(`{"type":"view","ext_id":"torn`))
	s.mu.Unlock()
	s.Close()

	s2, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.Append(rec(9)) // new records go to a later segment
	var got []string
	if _, err := s2.Replay(func(r Record) error { got = append(got, r.ExtID); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[e0 e1 e2 e9]" {
		t.Fatalf("replayed %v, want the three records before the crash, then e9, in order", got)
	}
}

func TestSpoolReplayStopsAndRejects(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenSpool(dir)
	defer s.Close()
	for i := range 4 {
		s.Append(rec(i))
	}
	// The database goes away at the third record: all is kept.
	calls := 0
	_, err := s.Replay(func(r Record) error {
		calls++
		if calls == 3 {
			return fmt.Errorf("%w: down", errStopReplay)
		}
		return nil
	})
	if !errors.Is(err, errStopReplay) {
		t.Fatalf("err = %v", err)
	}
	if st, _ := s.State(); st.Segments != 1 {
		t.Fatalf("segment removed although replay stopped: %+v", st)
	}
	// Next round: e1 is refused for good, the rest is stored.
	stored := 0
	n, err := s.Replay(func(r Record) error {
		if r.ExtID == "e1" {
			return errors.New("check constraint")
		}
		stored++
		return nil
	})
	if err != nil || n != 4 || stored != 3 {
		t.Fatalf("n=%d stored=%d err=%v", n, stored, err)
	}
	body, err := os.ReadFile(filepath.Join(dir, rejectedFile))
	if err != nil || !contains(string(body), `"ext_id":"e1"`) || !contains(string(body), "check constraint") {
		t.Fatalf("rejected file = %q, %v", body, err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// brokenSegment makes the spool's current segment a pipe: writes succeed
// (into the pipe buffer) but fsync fails, as on a disk that reports EIO.
// With readerClosed, writes fail too.
func brokenSegment(t *testing.T, s *Spool, readerClosed bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if readerClosed {
		r.Close()
	}
	s.mu.Lock()
	s.f, s.seg = w, filepath.Join(s.dir, "broken")
	s.mu.Unlock()
}

// TestSpoolFailedFlushIsNeverReportedDurable: a record whose segment could
// not be flushed must make its Append fail (503), even when the failed
// flush was a rotation or a write error of another append, and even when a
// later segment then flushes fine.
func TestSpoolFailedFlushIsNeverReportedDurable(t *testing.T) {
	t.Run("rotate", func(t *testing.T) {
		s, err := OpenSpool(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		brokenSegment(t, s, false)
		// Record 1 is written, its appender waits for the flush; the
		// replayer's rotation flushes first, and fails.
		if _, err := s.f.Write([]byte("{}\n")); err != nil {
			t.Fatal(err)
		}
		s.written++
		if err := s.rotate(); err == nil {
			t.Fatal("rotate of an unflushable segment succeeded")
		}
		if err := s.syncUpTo(1); err == nil {
			t.Fatal("record 1 reported durable after its segment failed to flush")
		}
		// Later records, in a new segment, are fine.
		if err := s.Append(rec(2)); err != nil {
			t.Fatalf("append after a failed flush: %v", err)
		}
	})
	t.Run("write error then new segment", func(t *testing.T) {
		s, err := OpenSpool(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		brokenSegment(t, s, true)
		s.written++ // record 1: written earlier, its appender still waiting
		if err := s.Append(rec(2)); err == nil {
			t.Fatal("append to a broken segment succeeded")
		}
		if err := s.Append(rec(3)); err != nil { // opens a healthy segment
			t.Fatalf("append after a write error: %v", err)
		}
		if err := s.syncUpTo(1); err == nil {
			t.Fatal("record 1 reported durable after its segment failed to flush")
		}
	})
}

// Garbage far longer than any record (a bad disk, a crash) is skipped; the
// records after it are still replayed.
func TestSpoolSkipsOverlongLines(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Append(rec(1))
	s.mu.Lock()
	s.f.Write([]byte(strings.Repeat("x", 3<<20) + "\n"))
	s.mu.Unlock()
	s.Append(rec(2))
	var got []string
	n, err := s.Replay(func(r Record) error { got = append(got, r.ExtID); return nil })
	if err != nil || n != 2 || fmt.Sprint(got) != "[e1 e2]" {
		t.Fatalf("replayed %d %v, %v; want e1 and e2 around the garbage", n, got, err)
	}
	if st, _ := s.State(); st.Segments != 0 {
		t.Fatalf("segment kept after replay: %+v", st)
	}
}

func TestReadLine(t *testing.T) {
	in := "short\n" + strings.Repeat("y", 300) + "\nlast"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	var lines []string
	var long []bool
	for {
		line, tooLong, err := readLine(r, 100)
		if len(line) > 0 || tooLong {
			lines, long = append(lines, string(line)), append(long, tooLong)
		}
		if err != nil {
			break
		}
	}
	if fmt.Sprint(lines) != "[short  last]" || fmt.Sprint(long) != "[false true false]" {
		t.Fatalf("lines %q long %v", lines, long)
	}
}
