package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func insertWin(t *testing.T, st *store.Store, extID string) {
	t.Helper()
	err := st.InsertAuctions(context.Background(), []store.Auction{{ExtID: extID, AuctionID: "r", RequestID: "0",
		CreativeID: "c", DSP: "alpha", PriceMicros: 2_000_000, BidPrice: "2", BidCurrency: "USD", BURL: "http://127.0.0.1:1/b"}})
	if err != nil {
		t.Fatal(err)
	}
}

func view(extID string, n int) store.Event {
	return store.Event{ExtID: extID, CaseID: fmt.Sprintf("%032x", n), Type: "view", PriceMicros: 2_000_000,
		RateNanos: 50_000_000, Value: 4_000_000, CreatedAt: time.Unix(1700000000, 0)}
}

func TestRecordViewBillsFirstViewOnly(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "w1")

	tests := []struct {
		name                  string
		ev                    store.Event
		inserted, billed, ntc bool
	}{
		{"first view is billed", view("w1", 1), true, true, true},
		{"same case again changes nothing", view("w1", 1), false, false, false},
		{"other case of the same win is not billed", view("w1", 2), true, false, false},
		{"that one again changes nothing", view("w1", 2), false, false, false},
	}
	for _, tc := range tests {
		got, err := st.RecordView(ctx, tc.ev, "alpha", "http://127.0.0.1:1/b?p=2")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (got.EventID != 0) != tc.inserted || got.Billed != tc.billed || (got.NoticeID != 0) != tc.ntc {
			t.Errorf("%s: got %+v", tc.name, got)
		}
	}
	evs, _ := st.EventsOf(ctx, "w1")
	if len(evs) != 2 || evs[0].Value != 4_000_000 || evs[1].Value != 0 || evs[0].RateNanos != 50_000_000 {
		t.Fatalf("events = %+v", evs)
	}
	ns, _ := st.NoticesOf(ctx, "w1")
	if len(ns) != 1 || ns[0].Kind != "burl" || ns[0].URL != "http://127.0.0.1:1/b?p=2" || ns[0].Status != "pending" {
		t.Fatalf("notices = %+v", ns)
	}
}

func TestRecordViewConcurrentCasesBillOnce(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	const wins, cases = 5, 8
	for w := range wins {
		insertWin(t, st, fmt.Sprintf("c%d", w))
	}
	var wg sync.WaitGroup
	errs := make(chan error, wins*cases)
	for w := range wins {
		for c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.RecordView(ctx, view(fmt.Sprintf("c%d", w), c), "alpha", "http://127.0.0.1:1/b")
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var billed, views, notices int
	st.Pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE value > 0), count(*) FROM events").Scan(&billed, &views)
	st.Pool.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&notices)
	if billed != wins || views != wins*cases || notices != wins {
		t.Fatalf("billed %d, views %d, notices %d; want %d, %d, %d", billed, views, notices, wins, wins*cases, wins)
	}
}

func TestRecordViewWithoutBURLBillsWithoutNotice(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "nb")
	got, err := st.RecordView(ctx, view("nb", 1), "alpha", "")
	if err != nil || !got.Billed || got.NoticeID != 0 {
		t.Fatalf("got %+v, %v; want billed without notice", got, err)
	}
}

func TestRecordClickIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "k1")
	ev := view("k1", 1)
	ev.Type = "click"
	first, err := st.RecordClick(ctx, ev)
	if err != nil || first.EventID == 0 {
		t.Fatalf("first click: %+v %v", first, err)
	}
	again, err := st.RecordClick(ctx, ev)
	if err != nil || again.EventID != 0 {
		t.Fatalf("repeated click: %+v %v", again, err)
	}
	var n int
	st.Pool.QueryRow(ctx, "SELECT count(*) FROM events WHERE type = 'click' AND value = 0").Scan(&n)
	if n != 1 {
		t.Fatalf("%d clicks stored, want 1", n)
	}
}

// A view replayed from the spool long after it happened keeps its event
// time (its payment period) but its notice's age starts when it is enqueued.
func TestReplayedViewNoticeAgesFromEnqueue(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "w1")
	ev := view("w1", 1)
	ev.EnqueuedAt = ev.CreatedAt.Add(48 * time.Hour)
	if _, err := st.RecordView(ctx, ev, "alpha", "http://127.0.0.1:1/b"); err != nil {
		t.Fatal(err)
	}
	evs, _ := st.EventsOf(ctx, "w1")
	ns, _ := st.NoticesOf(ctx, "w1")
	if len(evs) != 1 || !evs[0].CreatedAt.Equal(ev.CreatedAt) {
		t.Fatalf("event time = %+v, want %s", evs, ev.CreatedAt)
	}
	if len(ns) != 1 || !ns[0].CreatedAt.Equal(ev.EnqueuedAt) {
		t.Fatalf("notice created_at = %+v, want %s", ns, ev.EnqueuedAt)
	}
}

// A view after its win's deadline is stored, not billed, and sends no burl;
// the win's later views are repeats.
func TestRecordViewLateIsStoredNotBilled(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "late1")
	ev := view("late1", 1)
	ev.Late = true
	got, err := st.RecordView(ctx, ev, "alpha", "http://127.0.0.1:1/b")
	if err != nil || got.EventID == 0 || got.Billed || got.NoticeID != 0 || got.Reason != store.UnbilledLate {
		t.Fatalf("late view: %+v %v", got, err)
	}
	again, err := st.RecordView(ctx, view("late1", 2), "alpha", "http://127.0.0.1:1/b")
	if err != nil || again.Billed || again.Reason != store.UnbilledRepeat {
		t.Fatalf("view after the late one: %+v %v", again, err)
	}
	evs, _ := st.EventsOf(ctx, "late1")
	ns, _ := st.NoticesOf(ctx, "late1")
	if len(evs) != 2 || evs[0].Value != 0 || evs[0].UnbilledReason != "late" || evs[1].UnbilledReason != "repeat" || len(ns) != 0 {
		t.Fatalf("events %+v, notices %+v", evs, ns)
	}
}

// Daily partitions: the win's views land in other partitions than the win
// and than each other, and still only the first is billed and a repeated
// call changes nothing (the database no longer enforces it across
// partitions; the look-up under the ext_id's lock does).
func TestRecordViewIsOnceAcrossPartitions(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	win := time.Date(2024, 5, 1, 23, 59, 0, 0, time.UTC)
	for _, table := range store.PartitionedTables {
		if _, err := st.EnsurePartitions(ctx, table, win, win.Add(72*time.Hour), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: "xp", AuctionID: "r", RequestID: "0", CreativeID: "c", DSP: "alpha",
		PriceMicros: 2_000_000, CreatedAt: win}}); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration, c int) store.Event {
		ev := view("xp", c)
		ev.CreatedAt, ev.WinAt = win.Add(d), win
		return ev
	}
	for i, tc := range []struct {
		ev       store.Event
		inserted bool
		billed   bool
	}{
		{at(2*time.Minute, 1), true, true},    // next day's partition
		{at(30*time.Hour, 1), false, false},   // the same case, a day later: nothing
		{at(2*time.Minute, 1), false, false},  // replayed from the spool: nothing
		{at(50*time.Hour, 2), true, false},    // another case, two days later: a repeat
		{at(-30*time.Second, 3), true, false}, // stamped before its win (a skewed clock): still a repeat
		{at(50*time.Hour, 2), false, false},
	} {
		got, err := st.RecordView(ctx, tc.ev, "alpha", "http://127.0.0.1:1/b")
		if err != nil || (got.EventID != 0) != tc.inserted || got.Billed != tc.billed {
			t.Fatalf("view %d: %+v %v", i, got, err)
		}
	}
	var billed, views, notices, parts int
	st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE value > 0), count(*), count(DISTINCT tableoid) FROM events`).Scan(&billed, &views, &parts)
	st.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&notices)
	if billed != 1 || views != 3 || notices != 1 || parts != 3 {
		t.Fatalf("billed %d, views %d in %d partitions, notices %d; want 1, 3 in 3, 1", billed, views, parts, notices)
	}
}
