package events

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/groupcommit"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// sink is a NoticeSink that keeps what it is handed.
type sink struct {
	mu      sync.Mutex
	leases  int
	since   []time.Time
	handed  []store.Notice
	beforeN int // notices in the outbox when Deliver was called
	st      *store.Store
}

func (s *sink) NoticeLease() store.NoticeLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leases++
	return store.NoticeLease{Token: "lease-token", For: time.Hour}
}

func (s *sink) Deliver(since time.Time, ns []store.Notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.since = append(s.since, since)
	s.handed = append(s.handed, ns...)
	// Handed over only once committed: another connection sees the rows.
	s.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE claim = 'lease-token'`).Scan(&s.beforeN)
}

// A group's notices go to the sink once committed, already leased to it:
// the burl and pixels of each billed view, naming their rows, and no
// wake-up; a repeat view hands over nothing.
func TestCommitViewsHandsCommittedNoticesToTheSink(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	if err := st.InsertAuctions(ctx, []store.Auction{
		{ExtID: "h1", AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "sim", PriceMicros: 1_000_000, BURL: "http://127.0.0.1:1/b"},
		{ExtID: "h2", AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "sim", PriceMicros: 1_000_000,
			ImpressionURLs: []string{"http://127.0.0.1:1/p1", "http://127.0.0.1:1/p2"}},
	}); err != nil {
		t.Fatal(err)
	}
	m := New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), func() int64 { return 50_000_000 }, nil)
	woken := 0
	m.Notify = func() { woken++ }
	sk := &sink{st: st}
	m.Notices = sk
	m.commitViews([]*groupcommit.Call[Record, stored]{
		viewCall("h1", "00000000000000000000000000000001", ""),
		viewCall("h2", "00000000000000000000000000000001", ""),
	})
	m.commitViews([]*groupcommit.Call[Record, stored]{viewCall("h1", "00000000000000000000000000000002", "")}) // a repeat
	if woken != 0 || sk.leases != 2 || len(sk.since) != 2 {
		t.Fatalf("woken %d, %d leases, %d hand-overs; want 0, 2, 2", woken, sk.leases, len(sk.since))
	}
	if len(sk.handed) != 3 || sk.beforeN != 3 {
		t.Fatalf("handed %+v (%d committed when handed), want the burl and two pixels", sk.handed, sk.beforeN)
	}
	for _, n := range sk.handed {
		rows, err := st.NoticesOf(ctx, n.ExtID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rows {
			if r.ID == n.ID && r.CreatedAt.Equal(n.CreatedAt) && r.Kind == n.Kind && r.URL == n.URL && r.Status == "pending" {
				found = true
			}
		}
		if !found || n.Claim != "lease-token" || n.DSP != "sim" {
			t.Errorf("handed %+v, stored %+v", n, rows)
		}
	}
}
