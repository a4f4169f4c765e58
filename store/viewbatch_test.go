package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// One group holds every case RecordView knows, in the order they would
// have arrived one by one: each view gets the answer RecordView would have
// given it, and the rows are the same.
func TestRecordViewsAnswersEachViewAsOneByOne(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	for _, w := range []string{"g1", "g2", "g3", "g4"} {
		insertWin(t, st, w)
	}
	// g4 was viewed before the group: any view of it in the group is a repeat.
	if _, err := st.RecordView(ctx, view("g4", 1), "alpha", "http://127.0.0.1:1/b?g4"); err != nil {
		t.Fatal(err)
	}
	late := view("g2", 1)
	late.Late = true
	vs := []store.ViewWrite{
		{Event: view("g1", 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b?g1"},
		{Event: view("g1", 2), DSP: "alpha", BURL: "http://127.0.0.1:1/b?g1"},                                         // repeat, same group
		{Event: view("g1", 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b?g1"},                                         // the same view again
		{Event: late, DSP: "alpha", BURL: "http://127.0.0.1:1/b?g2"},                                                  // late: stored, not billed
		{Event: view("g3", 1), DSP: "alpha", Impressions: []string{"http://127.0.0.1:1/p1", "http://127.0.0.1:1/p2"}}, // no burl
		{Event: view("g4", 2), DSP: "alpha", BURL: "http://127.0.0.1:1/b?g4"},                                         // repeat of an earlier group
		{Event: view("g4", 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b?g4"},                                         // already stored
	}
	got, err := st.RecordViews(ctx, vs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		inserted, billed, notice bool
		reason                   string
		imps                     int
	}{
		{true, true, true, "", 0},
		{true, false, false, store.UnbilledRepeat, 0},
		{false, false, false, "", 0},
		{true, false, false, store.UnbilledLate, 0},
		{true, true, false, "", 2},
		{true, false, false, store.UnbilledRepeat, 0},
		{false, false, false, "", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results for %d views", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if (g.EventID != 0) != w.inserted || g.Billed != w.billed || (g.NoticeID != 0) != w.notice || g.Reason != w.reason || g.Impressions != w.imps {
			t.Errorf("view %d (%s): got %+v, want %+v", i, vs[i].Event.ExtID, g, w)
		}
	}
	values := map[string][]int64{"g1": {4_000_000, 0}, "g2": {0}, "g3": {4_000_000}, "g4": {4_000_000, 0}}
	for ext, vals := range values {
		evs, err := st.EventsOf(ctx, ext)
		if err != nil || len(evs) != len(vals) {
			t.Fatalf("events of %s: %+v %v", ext, evs, err)
		}
		for i, v := range vals {
			if evs[i].Value != v {
				t.Errorf("events of %s: %d has value %d, want %d", ext, i, evs[i].Value, v)
			}
		}
	}
	notices := map[string][]string{"g1": {"burl"}, "g2": nil, "g3": {"imp", "imp"}, "g4": {"burl"}}
	for ext, kinds := range notices {
		ns, err := st.NoticesOf(ctx, ext)
		if err != nil || len(ns) != len(kinds) {
			t.Fatalf("notices of %s: %+v %v", ext, ns, err)
		}
		for i, k := range kinds {
			if ns[i].Kind != k {
				t.Errorf("notices of %s: %d is %s, want %s", ext, i, ns[i].Kind, k)
			}
		}
	}
	if ns, _ := st.NoticesOf(ctx, "g3"); len(ns) == 2 && (ns[0].URL != "http://127.0.0.1:1/p1" || ns[1].URL != "http://127.0.0.1:1/p2") {
		t.Errorf("impression notices out of order: %+v", ns)
	}
}

// A view the database refuses fails its whole group: nothing of it is
// stored (its caller then tries each view alone).
func TestRecordViewsRefusedRowStoresNothing(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "b1")
	insertWin(t, st, "b2")
	bad := view("b2", 1)
	bad.ImpressionID = "nul\x00byte" // text cannot hold NUL
	_, err := st.RecordViews(ctx, []store.ViewWrite{
		{Event: view("b1", 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b"},
		{Event: bad, DSP: "alpha", BURL: "http://127.0.0.1:1/b"},
	})
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		t.Fatalf("err = %v, want the database's refusal", err)
	}
	for _, ext := range []string{"b1", "b2"} {
		if evs, err := st.EventsOf(ctx, ext); err != nil || len(evs) != 0 {
			t.Errorf("events of %s after a refused group: %+v %v", ext, evs, err)
		}
		if ns, err := st.NoticesOf(ctx, ext); err != nil || len(ns) != 0 {
			t.Errorf("notices of %s after a refused group: %+v %v", ext, ns, err)
		}
	}
}

// Views of one group share the ext_ids' locks with concurrent single
// views: a win viewed by both paths at once is billed once.
func TestRecordViewsAndRecordViewBillOnce(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	const wins = 20
	var group []store.ViewWrite
	for w := range wins {
		ext := fmt.Sprintf("m%d", w)
		insertWin(t, st, ext)
		group = append(group, store.ViewWrite{Event: view(ext, 1), DSP: "alpha", BURL: "http://127.0.0.1:1/b"})
	}
	errs := make(chan error, wins+1)
	go func() {
		_, err := st.RecordViews(ctx, group)
		errs <- err
	}()
	for w := range wins {
		go func() {
			_, err := st.RecordView(ctx, view(fmt.Sprintf("m%d", w), 2), "alpha", "http://127.0.0.1:1/b")
			errs <- err
		}()
	}
	for range wins + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for w := range wins {
		ext := fmt.Sprintf("m%d", w)
		evs, _ := st.EventsOf(ctx, ext)
		ns, _ := st.NoticesOf(ctx, ext)
		if len(evs) != 2 || evs[0].Value+evs[1].Value != 4_000_000 || len(ns) != 1 {
			t.Errorf("%s: events %+v, notices %d; want two views, one billed, one burl", ext, evs, len(ns))
		}
	}
}

// GetAuctions finds wins near their ext_ids' times in one look-up, an
// ext_id without a time like GetAuction does, and leaves unknown ones out.
func TestGetAuctions(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	now := time.Now()
	a, b := store.NewExtID(now), store.NewExtID(now.Add(-time.Hour))
	// Stored three hours after its ext_id's time: not near it, found anyway.
	skewed := store.NewExtID(now.Add(-3 * time.Hour))
	for _, ext := range []string{a, b, "plain", skewed} {
		insertWin(t, st, ext)
	}
	got, err := st.GetAuctions(ctx, []string{a, b, "plain", store.NewExtID(now), "nosuch", a, skewed})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[a] == nil || got[b] == nil || got["plain"] == nil || got[skewed] == nil {
		t.Fatalf("got %v, want the four stored wins", got)
	}
	if got[a].ExtID != a || got[a].DSP != "alpha" || got[a].PriceMicros != 2_000_000 || got[a].BURL != "http://127.0.0.1:1/b" {
		t.Errorf("win %s: %+v", a, got[a])
	}
	if got, err := st.GetAuctions(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no ext_ids: %v %v", got, err)
	}
}

// GetAuctions reads the columns a view uses, and each of them as GetAuction
// reads it; the others stay zero.
func TestGetAuctionsReadsTheViewColumns(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	ext := store.NewExtID(time.Now())
	win := store.Auction{ExtID: ext, AuctionID: "req-1", RequestID: "imp-2", CreativeID: "cr", DSP: "alpha", Seat: "s1",
		BidID: "b1", AdID: "ad1", PriceMicros: 2_500_000, BidAdjustmentPPM: 900_000, BidCurrency: "EUR", BidPrice: "2.7",
		NURL: "http://127.0.0.1:1/n", BURL: "http://127.0.0.1:1/b?p=${AUCTION_PRICE}", ClickURL: "http://127.0.0.1:1/c",
		ADomain: "a.example", CrID: "crid", CID: "cid", Cat: []string{"IAB1"}, Attr: []int32{3}, W: 300, H: 250, MType: 1,
		Exp: 600, FixedPrice: true, ImpressionURLs: []string{"http://127.0.0.1:1/p1", "http://127.0.0.1:1/p2"}}
	if err := st.InsertAuctions(ctx, []store.Auction{win}); err != nil {
		t.Fatal(err)
	}
	full, err := st.GetAuction(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetAuctions(ctx, []string{ext})
	if err != nil || got[ext] == nil {
		t.Fatalf("%v %v", got, err)
	}
	want := store.Auction{ExtID: full.ExtID, AuctionID: full.AuctionID, RequestID: full.RequestID, DSP: full.DSP,
		Seat: full.Seat, BidID: full.BidID, AdID: full.AdID, PriceMicros: full.PriceMicros,
		BidAdjustmentPPM: full.BidAdjustmentPPM, BidCurrency: full.BidCurrency, BidPrice: full.BidPrice, BURL: full.BURL,
		Exp: full.Exp, FixedPrice: full.FixedPrice, CreatedAt: full.CreatedAt, ImpressionURLs: full.ImpressionURLs}
	if fmt.Sprintf("%+v", *got[ext]) != fmt.Sprintf("%+v", want) {
		t.Errorf("GetAuctions:\n%+v\nwant\n%+v", *got[ext], want)
	}
	if want.BURL != win.BURL || want.Exp != 600 || !want.FixedPrice || len(want.ImpressionURLs) != 2 || want.Seat != "s1" {
		t.Errorf("stored win read back as %+v", *full)
	}
}
