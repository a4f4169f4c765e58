package events

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func viewCall(extID, caseID, iid string) *call[Record, stored] {
	return &call[Record, stored]{ctx: context.Background(), done: make(chan struct{}),
		in: Record{Type: View, ExtID: extID, CaseID: caseID, ImpressionID: iid, RateNanos: 50_000_000}}
}

// A group with a view the database refuses: that view gets the refusal,
// every other one is stored (one by one) and gets its win; an unknown
// ext_id is told so without failing anyone.
func TestCommitViewsOneRefusedViewFailsAlone(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	for _, ext := range []string{"r1", "r2", "r3"} {
		if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: ext, AuctionID: "a", RequestID: "0", CreativeID: "c",
			DSP: "sim", PriceMicros: 1_000_000, BURL: "http://127.0.0.1:1/b"}}); err != nil {
			t.Fatal(err)
		}
	}
	m := New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), func() int64 { return 50_000_000 }, nil)
	woken := 0
	m.Notify = func() { woken++ }
	calls := []*call[Record, stored]{
		viewCall("r1", "00000000000000000000000000000001", ""),
		viewCall("r2", "00000000000000000000000000000001", "nul\x00byte"), // text cannot hold NUL
		viewCall("nosuch", "00000000000000000000000000000001", ""),
		viewCall("r3", "00000000000000000000000000000001", ""),
	}
	m.commitViews(calls)
	var pg *pgconn.PgError
	if !errors.As(calls[1].err, &pg) {
		t.Errorf("refused view: %v, want the database's refusal", calls[1].err)
	}
	if !errors.Is(calls[2].err, errUnknownExtID) {
		t.Errorf("unknown ext_id: %v", calls[2].err)
	}
	for _, i := range []int{0, 3} {
		c := calls[i]
		if c.err != nil || c.out.win == nil || c.out.win.ExtID != c.in.ExtID {
			t.Errorf("view of %s: %+v %v", c.in.ExtID, c.out, c.err)
		}
		if evs, err := st.EventsOf(ctx, c.in.ExtID); err != nil || len(evs) != 1 || evs[0].Value == 0 {
			t.Errorf("events of %s: %+v %v", c.in.ExtID, evs, err)
		}
	}
	if evs, _ := st.EventsOf(ctx, "r2"); len(evs) != 0 {
		t.Errorf("refused view stored: %+v", evs)
	}
	if woken != 1 {
		t.Errorf("outbox woken %d times, want once for the group", woken)
	}
}

// With the database gone every view of the group gets an error (and its
// handler the spool), none a result.
func TestCommitViewsDatabaseGoneFailsEveryView(t *testing.T) {
	st := testdb.New(t)
	m := New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), func() int64 { return 50_000_000 }, nil)
	st.Pool.Close()
	calls := []*call[Record, stored]{viewCall("d1", "00000000000000000000000000000001", ""), viewCall("d2", "00000000000000000000000000000001", "")}
	m.commitViews(calls)
	for _, c := range calls {
		if c.err == nil || errors.Is(c.err, errUnknownExtID) || c.out.win != nil {
			t.Errorf("view of %s with the database gone: %+v %v", c.in.ExtID, c.out, c.err)
		}
	}
}
