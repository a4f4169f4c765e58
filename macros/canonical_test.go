package macros

import (
	"strings"
	"testing"
)

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

// FuzzCanonical: rewriting $-less and brace-escaped macros is
// idempotent (a stored nurl rewritten again stays the same), only ever
// adds "$" or "%24", and after expansion no canonical AUCTION_PRICE macro
// is left.
func FuzzCanonical(f *testing.F) {
	for _, u := range []string{
		"http://a/?p=${AUCTION_PRICE}", "http://a/?p={AUCTION_PRICE}", "http://a/?p=%7BAUCTION_PRICE%7D",
		"http://a/?p=%24%7BAUCTION_PRICE%7D", "http://a/?p=$%7BAUCTION_PRICE%7D", "http://a/?p=$%7bAUCTION_PRICE%7d&a=${AUCTION_ID}",
		"{AUCTION_PRICE}", "http://a/?x=%7bAUCTION_BID_ID%7d&y=", "http://first.example/w?p=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}",
		"http://127.0.0.1:1/w?p=${AUCTION_PRICE}&ad=${AUCTION_AD_ID}", "$$%7BAUCTION_", "%24{AUCTION_PRICE}",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		c := Canonical(u)
		if again := Canonical(c); again != c {
			t.Fatalf("not idempotent: %q → %q → %q", u, c, again)
		}
		// Only "$" or "%24" is ever added (or a "$" written as "%24").
		strip := strings.NewReplacer("$", "", "%24", "")
		if strip.Replace(c) != strip.Replace(u) {
			t.Fatalf("%q → %q changed more than macro prefixes", u, c)
		}
		out := Expand(c, Values{Price: "1.5", AuctionID: "a", BidID: "b", ImpID: "i", SeatID: "s", AdID: "d", Currency: "USD"})
		if strings.Contains(out, "${AUCTION_PRICE}") && !strings.Contains(u, "${${AUCTION_PRICE}") {
			t.Fatalf("%q expanded to %q, a price macro left", u, out)
		}
	})
}

// A URL that is canonical already comes back as it is, not rebuilt: this
// runs on every winning bid's nurl and burl.
func TestCanonicalUnchangedIsNotCopied(t *testing.T) {
	u := "http://a/?p=${AUCTION_PRICE}&q=%24%7BAUCTION_ID%7D&r={OTHER}"
	if got := Canonical(u); got != u {
		t.Fatalf("Canonical(%q) = %q", u, got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Canonical(u) }); n != 0 {
		t.Fatalf("Canonical of a canonical URL allocates %v times, want 0", n)
	}
}
