package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzSpoolSegment: replaying a segment of any content never panics or
// fails, hands over at most one record per line, and every record it
// hands over survives the line format: written as Append writes it and
// replayed again, it comes back the same.
func FuzzSpoolSegment(f *testing.F) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	rec := Record{Type: "view", ExtID: "a7Kq3xY0-1", CaseID: "8c4d43f6d4ee4ca89cb4907ac0a2e500",
		ImpressionID: "3f1e2d3c4b5a69788796a5b4c3d2e1f0", PublisherID: "fa9611d2d2f74e3f89c0e18b7c401891", RateNanos: 50_000_000, At: at}
	line, _ := json.Marshal(rec)
	click := rec
	click.Type, click.At = "click", at.In(time.FixedZone("", 2*3600))
	line2, _ := json.Marshal(click)
	f.Add(append(append(line, '\n'), line2...))                         // the last line unterminated
	f.Add(append(append(line, '\n'), line[:len(line)/2]...))            // torn by a crash mid-write
	f.Add(append([]byte("garbage\n\x00\x00\n{}\n"), line...))           // garbage, then a record
	f.Add([]byte(`{"type":"view","at":"2024-13-01T00:00:00Z"}` + "\n")) // not a time
	f.Add([]byte{})
	s := &Spool{dir: f.TempDir()} // rejected.jsonl would go there; fn rejects nothing
	f.Fuzz(func(t *testing.T, data []byte) {
		got := replayBytes(t, s, data)
		if lines := bytes.Count(data, []byte("\n")) + 1; len(got) > lines {
			t.Fatalf("%d records from %d lines", len(got), lines)
		}
		var again []byte
		for _, r := range got {
			l, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("replayed record %+v cannot be spooled again: %v", r, err)
			}
			again = append(append(again, l...), '\n')
		}
		back := replayBytes(t, s, again)
		if len(back) != len(got) {
			t.Fatalf("%d records written back, %d replayed", len(got), len(back))
		}
		for i := range got {
			a, b := got[i], back[i]
			if !a.At.Equal(b.At) {
				t.Fatalf("record %d: at %s came back as %s", i, a.At, b.At)
			}
			a.At, b.At = time.Time{}, time.Time{}
			if a != b {
				t.Fatalf("record %d: %+v came back as %+v", i, got[i], back[i])
			}
		}
	})
}

// replayBytes replays data as the lines of a segment, storing everything.
func replayBytes(t *testing.T, s *Spool, data []byte) []Record {
	var got []Record
	n, err := s.replayLines("fuzz", bufio.NewReader(bytes.NewReader(data)), func(r Record) error { got = append(got, r); return nil })
	if err != nil || n != len(got) {
		t.Fatalf("replay: %d records, %v (handed over %d)", n, err, len(got))
	}
	return got
}
