package macros

import "testing"

func TestExpand(t *testing.T) {
	v := Values{AuctionID: "req-1", BidID: "b 1", ImpID: "0", SeatID: "seat", AdID: "ad", Price: "2.5", Currency: "USD"}
	tests := []struct{ in, want string }{
		{"http://127.0.0.1/win?p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}", "http://127.0.0.1/win?p=2.5&c=USD"},
		{"http://127.0.0.1/win?p=%24%7BAUCTION_PRICE%7D", "http://127.0.0.1/win?p=2.5"},
		{"http://127.0.0.1/win?p=%24%7bAUCTION_PRICE%7d", "http://127.0.0.1/win?p=2.5"},
		{"http://127.0.0.1/w?a=${AUCTION_ID}&b=${AUCTION_BID_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}&d=${AUCTION_AD_ID}", "http://127.0.0.1/w?a=req-1&b=b+1&i=0&s=seat&d=ad"},
		{"http://127.0.0.1/plain", "http://127.0.0.1/plain"},
		{"http://127.0.0.1/w?x=${UNKNOWN}", "http://127.0.0.1/w?x=${UNKNOWN}"},
		{"http://127.0.0.1/w?x={AUCTION_PRICE}", "http://127.0.0.1/w?x={AUCTION_PRICE}"},
		{"http://127.0.0.1/w?l=${AUCTION_LOSS}&m=${AUCTION_MIN_TO_WIN}", "http://127.0.0.1/w?l=&m="},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, v); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandLossMacros(t *testing.T) {
	v := Values{Price: "1.2", Loss: "102", MinToWin: "1.35"}
	got := ExpandAll("http://127.0.0.1/loss?r=${AUCTION_LOSS}&m={AUCTION_MIN_TO_WIN}&e=%24%7BAUCTION_LOSS%7D&p=${AUCTION_PRICE}", v)
	if want := "http://127.0.0.1/loss?r=102&m=1.35&e=102&p=1.2"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func FuzzExpand(f *testing.F) {
	f.Add("http://x/${AUCTION_PRICE}", "1.5")
	f.Fuzz(func(t *testing.T, u, price string) {
		out := Expand(u, Values{Price: price})
		if Expand(out, Values{Price: price}) == "" && out != "" {
			t.Fatal("expansion lost the URL")
		}
	})
}
