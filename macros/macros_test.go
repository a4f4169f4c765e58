package macros

import (
	"strings"
	"testing"
)

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
	// One pass: what an expansion spells is not expanded again (found by
	// FuzzExpand: an empty price joins the text around it).
	if got := Expand("${AUCTION_${AUCTION_PRICE}PRICE}", Values{Price: "", AuctionID: "x"}); got != "${AUCTION_PRICE}" {
		t.Errorf("Expand of a macro inside a macro = %q", got)
	}
}

func TestExpandLossMacros(t *testing.T) {
	v := Values{Price: "1.2", Loss: "102", MinToWin: "1.35"}
	got := ExpandAll("http://127.0.0.1/loss?r=${AUCTION_LOSS}&m={AUCTION_MIN_TO_WIN}&e=%24%7BAUCTION_LOSS%7D&p=${AUCTION_PRICE}", v)
	if want := "http://127.0.0.1/loss?r=102&m=1.35&e=102&p=1.2"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// FuzzExpand: whatever the URL and the values (a DSP's ids and price),
// values cannot smuggle in characters that end a query parameter, a URL
// without a macro is left alone, and with values that cannot spell one, no
// known macro survives expansion in its plain form.
func FuzzExpand(f *testing.F) {
	f.Add("http://x/${AUCTION_PRICE}", "1.5", "b&c=1")
	f.Add("http://127.0.0.1/w?a=${AUCTION_ID}&b=${AUCTION_BID_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}&d=${AUCTION_AD_ID}&c=${AUCTION_CURRENCY}", "2.5", "${AUCTION_PRICE}")
	f.Add("http://127.0.0.1/win?p=%24%7BAUCTION_PRICE%7D&q=%24%7bAUCTION_ID%7d", "1500", "#frag")
	f.Add("${AUCTION_${AUCTION_PRICE}PRICE}}", "}", "{")
	f.Fuzz(func(t *testing.T, u, price, id string) {
		v := Values{AuctionID: id, BidID: id, ImpID: id, SeatID: id, AdID: id, Price: price, Currency: id}
		out := Expand(u, v)
		// Expansion is one pass: an empty value (or one of letters) can join
		// the text around it into macro text (testdata/fuzz/FuzzExpand/
		// 9538e367fb4b79d2), which is left as it is. Values of digits,
		// dots and dashes, as prices and ids are, cannot.
		if macroFree(price) && macroFree(id) {
			for _, name := range []string{"PRICE", "ID", "BID_ID", "IMP_ID", "SEAT_ID", "AD_ID", "CURRENCY"} {
				if m := "${AUCTION_" + name + "}"; strings.Contains(out, m) {
					t.Fatalf("Expand(%q) = %q still has %s", u, out, m)
				}
			}
		}
		if !strings.Contains(u, "${") && !strings.Contains(strings.ToLower(u), "%24%7b") && out != u {
			t.Fatalf("Expand(%q) changed a URL without macros: %q", u, out)
		}
		if strings.Count(out, "&") > strings.Count(u, "&") || strings.Count(out, "#") > strings.Count(u, "#") {
			t.Fatalf("a value added a parameter or a fragment: %q → %q", u, out)
		}
	})
}

// macroFree reports whether v is non-empty and has no letter or "_", so
// that no macro name can be spelled with it.
func macroFree(v string) bool {
	return v != "" && !strings.ContainsFunc(v, func(r rune) bool { return r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' })
}
