package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// The first view enqueues the burl and every impression pixel (kind imp,
// seq 1..n) in one transaction with the billed view; later views enqueue
// nothing.
func TestRecordViewEnqueuesImpressionPixels(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	insertWin(t, st, "p1")
	pixels := []string{"http://127.0.0.1:1/px?a=1", "http://127.0.0.1:1/px?a=2", "http://127.0.0.1:1/px?a=1"}
	got, err := st.RecordView(ctx, view("p1", 1), "alpha", "http://127.0.0.1:1/b", pixels...)
	if err != nil || !got.Billed || got.NoticeID == 0 || got.Impressions != 3 {
		t.Fatalf("first view: %+v, %v", got, err)
	}
	again, err := st.RecordView(ctx, view("p1", 2), "alpha", "http://127.0.0.1:1/b", pixels...)
	if err != nil || again.Billed || again.Impressions != 0 {
		t.Fatalf("second view: %+v, %v", again, err)
	}
	ns, _ := st.NoticesOf(ctx, "p1")
	var kinds []string
	for _, n := range ns {
		kinds = append(kinds, n.Kind+" "+n.URL)
	}
	want := []string{"burl http://127.0.0.1:1/b", "imp http://127.0.0.1:1/px?a=1", "imp http://127.0.0.1:1/px?a=2", "imp http://127.0.0.1:1/px?a=1"}
	if len(kinds) != len(want) {
		t.Fatalf("notices %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("notices %v, want %v", kinds, want)
		}
	}
}

// A win stored with a held nurl: released once (then due), or cancelled;
// neither touches a notice already claimed or tried.
func TestWinNoticeHoldReleaseAndCancel(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	hold := time.Now().Add(time.Hour)
	for _, id := range []string{"h1", "h2", "h3"} {
		if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha",
			PriceMicros: 1, BidPrice: "1", Delivery: "inline", WinNotice: "http://127.0.0.1:1/win?" + id, WinNoticeDue: hold}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if claimed, _, _ := st.ClaimNotices(ctx, store.Claim{Now: now, Lease: time.Minute, Since: now.Add(-time.Hour), Token: "T", Quota: map[string]int{"alpha": 10}}); len(claimed) != 0 {
		t.Fatalf("held notices were claimable: %+v", claimed)
	}
	if n, err := st.ReleaseWinNotices(ctx, []string{"h1", "h2"}, now); err != nil || n != 2 {
		t.Fatalf("release: %d, %v", n, err)
	}
	if n, _ := st.ReleaseWinNotices(ctx, []string{"h1"}, now); n != 0 {
		t.Fatalf("a second release changed %d rows", n)
	}
	claimed, _, _ := st.ClaimNotices(ctx, store.Claim{Now: now, Lease: time.Minute, Since: now.Add(-time.Hour), Token: "T", Quota: map[string]int{"alpha": 10}})
	if len(claimed) != 2 {
		t.Fatalf("claimed %d released notices, want 2", len(claimed))
	}
	// h1 is claimed now: cancelling it must not take it from its worker.
	if n, err := st.CancelWinNotices(ctx, []string{"h1", "h3"}); err != nil || n != 1 {
		t.Fatalf("cancel: %d, %v; want only the held h3", n, err)
	}
	if ns, _ := st.NoticesOf(ctx, "h3"); len(ns) != 0 {
		t.Fatalf("h3 notices after cancel: %+v", ns)
	}
	if ns, _ := st.NoticesOf(ctx, "h1"); len(ns) != 1 {
		t.Fatalf("h1 notices: %+v", ns)
	}
}

// Public wins: the creative is stored once by content and found by token
// until the win is too old; a serve enqueues the nurl once.
func TestCreativeByTokenAndServeNotice(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	body := []byte("\x89PNG fake")
	sum := sha256.Sum256(body)
	c := &store.Creative{SHA256: sum[:], ContentType: "image/png", Bytes: body}
	wins := []store.Auction{
		{ExtID: "t1", AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha", PriceMicros: 1, BidPrice: "1.5", NURL: "http://127.0.0.1:1/w?p=${AUCTION_PRICE}",
			Delivery: "public", ServeToken: "tok1", CreativeSHA256: sum[:], Creative: c},
		{ExtID: "t2", AuctionID: "a", RequestID: "1", CreativeID: "c", DSP: "alpha", PriceMicros: 1, BidPrice: "1.5",
			Delivery: "public", ServeToken: "tok2", CreativeSHA256: sum[:], Creative: c},
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	if n, size, _ := st.CreativeCount(ctx); n != 1 || size != int64(len(body)) {
		t.Fatalf("%d creatives of %d bytes, want 1 of %d", n, size, len(body))
	}
	got, err := st.CreativeByToken(ctx, "tok1", time.Now().Add(-time.Hour))
	if err != nil || string(got.Bytes) != string(body) || got.ContentType != "image/png" || got.Win.ExtID != "t1" || got.Win.NURL == "" {
		t.Fatalf("by token: %+v, %v", got, err)
	}
	if _, err := st.CreativeByToken(ctx, "tok1", time.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a win older than the ttl: %v, want not found", err)
	}
	if _, err := st.CreativeByToken(ctx, "", time.Now().Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the empty token: %v, want not found", err)
	}
	for i, want := range []bool{true, false} {
		added, err := st.EnqueueWinNotice(ctx, "t1", "alpha", "http://127.0.0.1:1/w?p=1.5", time.Now(), got.Win.CreatedAt)
		if err != nil || added != want {
			t.Fatalf("serve %d: added %v, %v; want %v", i, added, err, want)
		}
	}
	// Unused creatives go; used ones stay.
	if n, err := st.DeleteUnusedCreatives(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("deleted %d used creatives, %v", n, err)
	}
	if n, err := st.DeleteUnusedCreatives(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("deleted %d unused creatives, %v", n, err)
	}
}

func TestRejectionCountsAddUpPerDay(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	d1 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	for range 2 {
		if err := st.AddRejections(ctx, []store.RejectionCount{
			{Day: d1, DSP: "a", Reason: "unrenderable_markup", Bids: 3},
			{Day: d2, DSP: "a", Reason: "unrenderable_markup", Bids: 1},
			{Day: d2, DSP: "b", Reason: "creative_timeout", Bids: 2},
		}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.Rejections(ctx, d1, d2.AddDate(0, 0, 1))
	if err != nil || all["a"]["unrenderable_markup"] != 8 || all["b"]["creative_timeout"] != 4 {
		t.Fatalf("both days: %v, %v", all, err)
	}
	first, _ := st.Rejections(ctx, d1, d2) // [May 1, May 2): only May 1
	if first["a"]["unrenderable_markup"] != 6 || first["b"] != nil {
		t.Fatalf("first day: %v", first)
	}
	partial, _ := st.Rejections(ctx, d2.Add(10*time.Hour), d2.Add(11*time.Hour)) // touches May 2
	if partial["a"]["unrenderable_markup"] != 2 || partial["b"]["creative_timeout"] != 4 {
		t.Fatalf("an hour of the second day: %v", partial)
	}
}
