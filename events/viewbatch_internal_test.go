package events

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adshares/dsp-bridge/internal/groupcommit"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func viewCall(extID, caseID, iid string) *groupcommit.Call[Record, stored] {
	return groupcommit.NewCall[Record, stored](context.Background(),
		Record{Type: View, ExtID: extID, CaseID: caseID, ImpressionID: iid, RateNanos: 50_000_000})
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
	calls := []*groupcommit.Call[Record, stored]{
		viewCall("r1", "00000000000000000000000000000001", ""),
		viewCall("r2", "00000000000000000000000000000001", "nul\x00byte"), // text cannot hold NUL
		viewCall("nosuch", "00000000000000000000000000000001", ""),
		viewCall("r3", "00000000000000000000000000000001", ""),
	}
	m.commitViews(calls)
	var pg *pgconn.PgError
	if !errors.As(calls[1].Err, &pg) {
		t.Errorf("refused view: %v, want the database's refusal", calls[1].Err)
	}
	if !errors.Is(calls[2].Err, errUnknownExtID) {
		t.Errorf("unknown ext_id: %v", calls[2].Err)
	}
	for _, i := range []int{0, 3} {
		c := calls[i]
		if c.Err != nil || c.Out.win == nil || c.Out.win.ExtID != c.In.ExtID {
			t.Errorf("view of %s: %+v %v", c.In.ExtID, c.Out, c.Err)
		}
		if evs, err := st.EventsOf(ctx, c.In.ExtID); err != nil || len(evs) != 1 || evs[0].Value == 0 {
			t.Errorf("events of %s: %+v %v", c.In.ExtID, evs, err)
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
	calls := []*groupcommit.Call[Record, stored]{viewCall("d1", "00000000000000000000000000000001", ""), viewCall("d2", "00000000000000000000000000000001", "")}
	m.commitViews(calls)
	for _, c := range calls {
		if c.Err == nil || errors.Is(c.Err, errUnknownExtID) || c.Out.win != nil {
			t.Errorf("view of %s with the database gone: %+v %v", c.In.ExtID, c.Out, c.Err)
		}
	}
}
