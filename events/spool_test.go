package events

import (
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
