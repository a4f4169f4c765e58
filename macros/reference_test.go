package macros

import (
	"net/url"
	"strings"
	"testing"
)

// referenceExpand is Expand as it was: a strings.Replacer of every form.
func referenceExpand(u string, v Values) string {
	if !strings.Contains(u, "${") && !strings.Contains(u, "%24%7B") && !strings.Contains(u, "%24%7b") {
		return u
	}
	vals := []string{v.Price, v.AuctionID, v.BidID, v.ImpID, v.SeatID, v.AdID, v.Currency, v.Loss, v.MinToWin}
	var args []string
	for k, name := range names {
		esc := url.QueryEscape(vals[k])
		args = append(args, "${"+name+"}", esc, "%24%7B"+name+"%7D", esc, "%24%7b"+name+"%7d", esc)
	}
	return strings.NewReplacer(args...).Replace(u)
}

// referenceCanonical is Canonical as it was: byte by byte.
func referenceCanonical(s string) string {
	if !strings.Contains(s, "AUCTION_") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "{AUCTION_") && (i == 0 || s[i-1] != '$'):
			b.WriteString("$")
		case strings.HasPrefix(rest, "$%7BAUCTION_") || strings.HasPrefix(rest, "$%7bAUCTION_"):
			b.WriteString("%24")
			i++
			continue
		case (strings.HasPrefix(rest, "%7BAUCTION_") || strings.HasPrefix(rest, "%7bAUCTION_")) &&
			(i == 0 || s[i-1] != '$') && (i < 3 || !strings.EqualFold(s[i-3:i], "%24")):
			b.WriteString("%24")
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// FuzzExpandLikeReference: Expand and Canonical give exactly what the
// Replacer-based and byte-by-byte versions gave, for any text and values.
func FuzzExpandLikeReference(f *testing.F) {
	f.Add("http://x/${AUCTION_PRICE}&%24%7BAUCTION_ID%7D&%24%7bAUCTION_BID_ID%7d&${AUCTION_IMP_ID", "1.5", "b&c=1")
	f.Add("${AUCTION_${AUCTION_PRICE}PRICE}}$%7BAUCTION_LOSS%7D{AUCTION_MIN_TO_WIN}%7bAUCTION_AD_ID%7d%24%7BAUCTION_SEAT_ID%7d", "", "x")
	f.Add("$$%24%7B%24%7BAUCTION_CURRENCY%7D%%", "}", "{")
	f.Fuzz(func(t *testing.T, u, price, id string) {
		v := Values{AuctionID: id, BidID: id + "b", ImpID: id + "i", SeatID: "s" + id, AdID: price + id, Price: price, Currency: id,
			Loss: price + "l", MinToWin: "m"}
		if got, want := Expand(u, v), referenceExpand(u, v); got != want {
			t.Fatalf("Expand(%q) = %q, reference %q", u, got, want)
		}
		if got, want := Canonical(u), referenceCanonical(u); got != want {
			t.Fatalf("Canonical(%q) = %q, reference %q", u, got, want)
		}
	})
}

// BenchmarkExpandAll is a dspsim nurl with every macro, expanded.
func BenchmarkExpandAll(b *testing.B) {
	u := "http://127.0.0.1:40123/win?price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&seat=${AUCTION_SEAT_ID}&ad=${AUCTION_AD_ID}"
	v := Values{AuctionID: "4f9c2a6e-0b7d-4c1e-9a55-2d7f3e8b1c90", BidID: "17-0", ImpID: "0", SeatID: "sim", AdID: "ad-0", Price: "1.00", Currency: "USD"}
	for _, c := range []struct {
		name string
		fn   func(string, Values) string
	}{{"new", ExpandAll}, {"reference", func(s string, v Values) string { return referenceExpand(referenceCanonical(s), v) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.fn(u, v)
			}
		})
	}
}
