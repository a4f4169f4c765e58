package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Record is one event accepted while PostgreSQL was unreachable: what the
// AdServer sent plus what the bridge knew at that moment (its rate, its
// fee, its clock), so that replaying it later stores exactly what a direct write
// would have stored.
type Record struct {
	Type         string `json:"type"` // view or click
	ExtID        string `json:"ext_id"`
	CaseID       string `json:"case_id"`
	ImpressionID string `json:"iid,omitempty"`
	ZoneID       string `json:"zid,omitempty"`
	PublisherID  string `json:"pid,omitempty"`
	RateNanos    int64  `json:"rate_nanos"`
	// FeePPM is money.fee when the event arrived; records spooled by a
	// bridge without fees have none, which is a fee of 0.
	FeePPM int64     `json:"fee_ppm,omitempty"`
	At     time.Time `json:"at"`
}

// Spool is a local append-only log of Records in segment files
// (spool-<n>.jsonl, one JSON line per record). Append returns only after the
// record is fsynced; concurrent appends share one fsync (group commit), so an
// outage burst costs one disk flush per batch, not per event.
type Spool struct {
	dir  string
	lock *os.File

	mu      sync.Mutex // guards f, seg, written
	f       *os.File
	seg     string
	next    int64 // sequence of the next segment
	written int64 // records written, ever
	// lostUpTo: records up to this number may not be on disk (a failed
	// flush); appends of theirs still waiting report an error.
	lostUpTo int64

	syncMu sync.Mutex // serialises fsyncs
	synced int64      // records known to be on disk
}

const (
	segPrefix = "spool-"
	segSuffix = ".jsonl"
	// rejectedFile keeps records that replay could not store for a reason
	// other than the database being down (never silently dropped).
	rejectedFile = "rejected.jsonl"
)

// OpenSpool opens (creating it if needed) the spool in dir and locks it, so
// that two bridge processes never share one spool.
func OpenSpool(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("events: spool dir: %w", err)
	}
	// Make the directory's own entry durable, so that a power loss right
	// after the first start cannot take the spool (and what it holds) away.
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("events: spool lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("events: spool dir %s is in use by another process: %w", dir, err)
	}
	s := &Spool{dir: dir, lock: lock}
	segs, err := s.segments()
	if err != nil {
		lock.Close()
		return nil, err
	}
	// New segments sort after every existing one, even across restarts.
	s.next = time.Now().UnixNano()
	if n := len(segs); n > 0 {
		if last := segSeq(segs[n-1]); last >= s.next {
			s.next = last + 1
		}
	}
	return s, nil
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Append writes rec and fsyncs it before returning.
func (s *Spool) Append(rec Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	s.mu.Lock()
	if s.f == nil {
		if err := s.openSegment(); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	if _, err := s.f.Write(line); err != nil {
		// A partial line may be on disk: start a new segment, so the next
		// record never continues it. Replay skips the torn line. Records
		// written before it still need their flush.
		if serr := s.f.Sync(); serr != nil {
			s.lostUpTo = s.written
		}
		s.f.Close()
		s.f = nil
		s.mu.Unlock()
		return fmt.Errorf("events: spool write: %w", err)
	}
	s.written++
	mine := s.written
	s.mu.Unlock()
	return s.syncUpTo(mine)
}

// syncUpTo returns once record number n is on disk. Whoever holds syncMu
// flushes everything written so far; later callers find their record
// already covered and return without a flush of their own.
func (s *Spool) syncUpTo(n int64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	f, upTo, lost := s.f, s.written, s.lostUpTo
	s.mu.Unlock()
	// Checked before synced: a later segment's flush advances synced past
	// records whose own segment failed to flush.
	if n <= lost {
		return errors.New("events: spool fsync failed")
	}
	if s.synced >= n {
		return nil
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			// A failed fsync may drop the dirty pages and a retry then
			// "succeed": everything written so far counts as lost.
			s.mu.Lock()
			s.lostUpTo = max(s.lostUpTo, upTo)
			s.mu.Unlock()
			return fmt.Errorf("events: spool fsync: %w", err)
		}
	}
	// f == nil: the segment was closed, and closing flushed it (a failed
	// flush is in lostUpTo).
	s.synced = upTo
	return nil
}

// openSegment creates the next segment file and makes its directory entry
// durable. Call with mu held.
func (s *Spool) openSegment() error {
	name := filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", segPrefix, s.next, segSuffix))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("events: spool segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	s.next++
	s.f, s.seg = f, name
	return nil
}

// rotate closes the segment being written (after flushing it), so that
// every existing segment is complete and can be replayed while new records
// go to a new one.
func (s *Spool) rotate() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err == nil {
		s.synced = s.written
	} else {
		// Appenders still waiting for their flush must not be told their
		// record is on disk.
		s.lostUpTo = s.written
	}
	return err
}

// segments lists the segment files, oldest first.
func (s *Spool) segments() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("events: spool dir: %w", err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, segPrefix) && strings.HasSuffix(n, segSuffix) {
			out = append(out, filepath.Join(s.dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

func segSeq(path string) int64 {
	var n int64
	fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), segPrefix), segSuffix), "%d", &n)
	return n
}

// SpoolState is how much is waiting in the spool.
type SpoolState struct {
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
}

// State reports the segments and bytes waiting to be replayed.
func (s *Spool) State() (SpoolState, error) {
	segs, err := s.segments()
	if err != nil {
		return SpoolState{}, err
	}
	var st SpoolState
	for _, p := range segs {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			st.Segments++
			st.Bytes += fi.Size()
		}
	}
	return st, nil
}

// Close flushes and closes the current segment and releases the lock.
func (s *Spool) Close() error {
	err := s.rotate()
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("events: spool dir sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("events: spool dir sync: %w", err)
	}
	return nil
}
