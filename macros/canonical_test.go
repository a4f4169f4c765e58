package macros

import "testing"

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"http://a/?p=${AUCTION_PRICE}":        "http://a/?p=${AUCTION_PRICE}",
		"http://a/?p={AUCTION_PRICE}":         "http://a/?p=${AUCTION_PRICE}",
		"http://a/?p=%7BAUCTION_PRICE%7D":     "http://a/?p=%24%7BAUCTION_PRICE%7D",
		"http://a/?p=%24%7BAUCTION_PRICE%7D":  "http://a/?p=%24%7BAUCTION_PRICE%7D",
		"http://a/?p=$%7BAUCTION_PRICE%7D":    "http://a/?p=%24%7BAUCTION_PRICE%7D",
		"http://a/?p={AUCTION_ID}&q={OTHER}":  "http://a/?p=${AUCTION_ID}&q={OTHER}",
		"{AUCTION_PRICE}":                     "${AUCTION_PRICE}",
		"http://a/?x=%7bAUCTION_BID_ID%7d&y=": "http://a/?x=%24%7bAUCTION_BID_ID%7d&y=",
		"no macros here":                      "no macros here",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

// A nurl built with JavaScript's encodeURI (or Go's url.URL.String) keeps
// the "$" and escapes only the braces; the DSP must get the bare price.
func TestCanonicalBraceEscapedDollar(t *testing.T) {
	v := Values{Price: "2.50", AuctionID: "a1"}
	for in, want := range map[string]string{
		"http://a/?p=$%7BAUCTION_PRICE%7D":                    "http://a/?p=2.50",
		"http://a/?p=$%7bAUCTION_PRICE%7d&a=${AUCTION_ID}":    "http://a/?p=2.50&a=a1",
		"http://a/?p=$%7BAUCTION_PRICE%7D&a=%7BAUCTION_ID%7D": "http://a/?p=2.50&a=a1",
	} {
		if got := ExpandAll(in, v); got != want {
			t.Errorf("ExpandAll(%q) = %q, want %q", in, got, want)
		}
	}
}

// Markup carries macros in attributes, in every form the field documents
// use; ExpandAll substitutes them all and leaves the rest of the text alone.
func TestExpandAllInMarkup(t *testing.T) {
	v := Values{Price: "0.75", AuctionID: "a 1"}
	adm := `<a href="http://127.0.0.1/c?p={AUCTION_PRICE}&amp;a=${AUCTION_ID}"><img src="http://127.0.0.1/i.png?p=%7BAUCTION_PRICE%7D"></a>` +
		`<img src="http://127.0.0.1/px?p=$%7BAUCTION_PRICE%7D&q=%24%7BAUCTION_PRICE%7D" width="1" height="1">{NOT_A_MACRO}`
	want := `<a href="http://127.0.0.1/c?p=0.75&amp;a=a+1"><img src="http://127.0.0.1/i.png?p=0.75"></a>` +
		`<img src="http://127.0.0.1/px?p=0.75&q=0.75" width="1" height="1">{NOT_A_MACRO}`
	if got := ExpandAll(adm, v); got != want {
		t.Fatalf("ExpandAll:\n got %s\nwant %s", got, want)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("http://x/?p={AUCTION_PRICE}&q=%7BAUCTION_ID%7D&r=$%7BAUCTION_BID_ID%7D")
	f.Fuzz(func(t *testing.T, s string) {
		c := Canonical(s)
		if Canonical(c) != c {
			t.Fatalf("Canonical is not idempotent: %q -> %q -> %q", s, c, Canonical(c))
		}
	})
}
