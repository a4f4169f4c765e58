package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestInsertAndGetAuctions(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	wins := []store.Auction{
		{ExtID: "a1", AuctionID: "r1", RequestID: "0", CreativeID: "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b", DSP: "alpha", PriceMicros: 2_500_000, BidCurrency: "USD", BidPrice: "2.5", NURL: "http://127.0.0.1/n", BURL: "http://127.0.0.1/b"},
		{ExtID: "a2", AuctionID: "r1", RequestID: "1", CreativeID: "0c1d2e3f405162738495a6b7c8d9eaf0", DSP: "beta", PriceMicros: 1, BidCurrency: "EUR", BidPrice: "0.000001"},
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetAuction(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if got.DSP != "alpha" || got.PriceMicros != 2_500_000 || got.BURL != "http://127.0.0.1/b" || got.CreatedAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	if _, err := st.GetAuction(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing ext_id: %v, want ErrNotFound", err)
	}
}

func TestInsertAuctionsIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	wins := []store.Auction{
		{ExtID: "ok1", AuctionID: "r", RequestID: "0", CreativeID: "c", DSP: "d", PriceMicros: 5},
		{ExtID: "bad", AuctionID: "r", RequestID: "1", CreativeID: "c", DSP: "d", PriceMicros: 0}, // violates price > 0
	}
	if err := st.InsertAuctions(ctx, wins); err == nil {
		t.Fatal("want an error for a zero price")
	}
	if _, err := st.GetAuction(ctx, "ok1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("first win of a failed batch was stored: %v", err)
	}
}

// Migration 006: what identifies the creative round-trips, and a win
// without those details (nil lists) stores the column defaults.
func TestAuctionCreativeDetails(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	wins := []store.Auction{
		{ExtID: "d1", AuctionID: "r", RequestID: "0", CreativeID: "c", DSP: "d", PriceMicros: 1_200_000, BidPrice: "1.20",
			CrID: "cr-1", CID: "camp-1", Cat: []string{"IAB12", "IAB3"}, Attr: []int32{2, 6}, W: 300, H: 250, MType: 1, Exp: 3600, FixedPrice: true},
		{ExtID: "d2", AuctionID: "r", RequestID: "1", CreativeID: "c", DSP: "d", PriceMicros: 5},
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	a, err := st.GetAuction(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if a.CrID != "cr-1" || a.CID != "camp-1" || len(a.Cat) != 2 || a.Cat[1] != "IAB3" || len(a.Attr) != 2 || a.Attr[1] != 6 ||
		a.W != 300 || a.H != 250 || a.MType != 1 || a.Exp != 3600 || !a.FixedPrice {
		t.Fatalf("details %+v", a)
	}
	b, err := st.GetAuction(ctx, "d2")
	if err != nil {
		t.Fatal(err)
	}
	if b.CrID != "" || len(b.Cat) != 0 || len(b.Attr) != 0 || b.W != 0 || b.FixedPrice {
		t.Fatalf("defaults %+v", b)
	}
}

// Every column of a win is stored where it belongs, for each row of a
// batch (the INSERT takes one array per column) and of a lone win (one
// VALUES row): distinct values per row and per field come back from
// GetAuction as they went in, array elements with quotes, braces and
// commas included, and a win without a time gets the database's.
func TestInsertAuctionsStoresEveryColumnOfEveryRow(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	sum := sha256.Sum256([]byte("c"))
	wins := make([]store.Auction, 4)
	for i := range wins {
		s := func(f string) string { return f + "-" + strconv.Itoa(i) }
		wins[i] = store.Auction{ExtID: s("x"), AuctionID: s("auction"), RequestID: s("req"), CreativeID: s("creative"), DSP: s("dsp"),
			Seat: s("seat"), BidID: s("bid"), AdID: s("ad"), PriceMicros: int64(1000 + i), BidAdjustmentPPM: int64(900_000 + i),
			BidCurrency: s("cur"), BidPrice: s("price"), NURL: s("nurl"), BURL: s("burl"), ClickURL: s("click"), ADomain: s("adomain"),
			CrID: s("crid"), CID: s("cid"), Cat: []string{s("IAB"), `q"uote`, `back\slash`, "{brace},comma", "NULL", ""},
			Attr: []int32{int32(i), -7}, W: int64(300 + i), H: int64(250 + i), MType: int64(1 + i), Exp: int64(60 + i), FixedPrice: i == 1,
			CreatedAt: at.Add(time.Duration(i) * time.Second), Delivery: s("delivery"), CreativePath: s("path"), ServeToken: s("tok"),
			CreativeSHA256: sum[:], ImpressionURLs: []string{s("http://127.0.0.1:1/p"), "http://127.0.0.1:1/q?a=1,2"}}
	}
	for _, i := range []int{2, 3} {
		wins[i].CreatedAt, wins[i].CreativeSHA256, wins[i].Cat, wins[i].Attr, wins[i].ImpressionURLs = time.Time{}, nil, nil, nil, nil
	}
	for _, batch := range [][]store.Auction{wins[:1], wins[1:3], wins[3:]} {
		if err := st.InsertAuctions(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range wins {
		got, err := st.GetAuction(ctx, want.ExtID)
		if err != nil {
			t.Fatal(err)
		}
		if i >= 2 {
			if time.Since(got.CreatedAt) > time.Hour || got.CreatedAt.After(time.Now().Add(time.Hour)) {
				t.Errorf("win without a time stored at %v, want the database's now", got.CreatedAt)
			}
			got.CreatedAt = want.CreatedAt
			want.Cat, want.Attr, want.ImpressionURLs = []string{}, []int32{}, []string{}
		}
		got.CreatedAt = got.CreatedAt.UTC()
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("win %d:\n got %+v\nwant %+v", i, *got, want)
		}
	}
}
