package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Reading the spool back: every record of its closed segments, oldest
// first, handed to the replayer; torn and oversized lines skipped, records
// the database refuses set aside in rejected.jsonl.

// errStopReplay, returned by a replay callback, stops the replay and keeps
// the current segment (the database went away again).
var errStopReplay = errors.New("events: stop replay")

// Replay feeds every spooled record to fn, oldest first, and deletes each
// segment once all its records went through. fn returns nil when the record
// is stored (or was already), errStopReplay (wrapped) to stop and retry
// later, or another error to set the record aside in rejected.jsonl. A
// segment replayed twice after a crash is harmless: storing is idempotent.
func (s *Spool) Replay(fn func(Record) error) (replayed int, err error) {
	if err := s.rotate(); err != nil {
		return 0, err
	}
	segs, err := s.segments()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	current := s.seg
	open := s.f != nil
	s.mu.Unlock()
	for _, seg := range segs {
		if open && seg == current {
			break // appended to right now; the next round gets it
		}
		n, err := s.replaySegment(seg, fn)
		replayed += n
		if err != nil {
			return replayed, err
		}
		if err := os.Remove(seg); err != nil {
			return replayed, fmt.Errorf("events: spool remove: %w", err)
		}
		syncDir(s.dir)
	}
	return replayed, nil
}

func (s *Spool) replaySegment(path string, fn func(Record) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("events: spool read: %w", err)
	}
	defer f.Close()
	return s.replayLines(path, bufio.NewReaderSize(f, 64<<10), fn)
}

// replayLines feeds every well-formed record line of r, the segment at
// path, to fn (see Replay).
func (s *Spool) replayLines(path string, r *bufio.Reader, fn func(Record) error) (int, error) {
	n := 0
	for {
		line, tooLong, rerr := readLine(r, maxRecordLine)
		if rerr == io.EOF && len(line) == 0 && !tooLong {
			return n, nil
		}
		if rerr != nil && rerr != io.EOF {
			return n, fmt.Errorf("events: spool read %s: %w", path, rerr)
		}
		if tooLong {
			// No record is anywhere near this long: garbage left by a crash
			// or a bad disk. Skipping it keeps the records after it flowing.
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			// A torn last line from a crash mid-write: that append never
			// returned, so the AdServer was never answered 204 for it.
			continue
		}
		err := fn(rec)
		if errors.Is(err, errStopReplay) {
			return n, err
		}
		if err != nil {
			if rerr := s.reject(line, err); rerr != nil {
				return n, rerr
			}
		}
		n++
	}
}

// maxRecordLine bounds one spooled line; a record is a few hundred bytes.
const maxRecordLine = 1 << 20

// readLine reads one line without its newline. A line longer than max is
// read to its end but not kept (tooLong). At the end of the file it returns
// the last, unterminated line (if any) with io.EOF.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return line, tooLong, err
		default:
			return bytes.TrimSuffix(line, []byte("\n")), tooLong, nil
		}
	}
}

// reject keeps a record that cannot be stored, with the reason, for the
// operator.
func (s *Spool) reject(line []byte, reason error) error {
	f, err := os.OpenFile(filepath.Join(s.dir, rejectedFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("events: spool reject: %w", err)
	}
	defer f.Close()
	entry, _ := json.Marshal(map[string]any{"record": json.RawMessage(line), "error": reason.Error()})
	if _, err := f.Write(append(entry, '\n')); err != nil {
		return fmt.Errorf("events: spool reject: %w", err)
	}
	return f.Sync()
}
