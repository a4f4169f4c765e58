package auction

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/macros"
)

// fixtureAnswers are the DSP answers of auction/testdata (both dialects),
// for seeding the fuzzers with real shapes.
func fixtureAnswers(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/*.json")
	var out [][]byte
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(raw, &fx); err != nil {
			f.Fatalf("%s: %v", file, err)
		}
		for _, d := range fx.DSPs {
			if d.Answer.BodyText != "" {
				out = append(out, []byte(d.Answer.BodyText))
			} else if len(d.Answer.Body) > 0 {
				out = append(out, d.Answer.Body)
			}
		}
	}
	if len(out) < 5 {
		f.Fatalf("only %d fixture answers", len(out))
	}
	return append(out,
		[]byte(`{"id":"1","cur":["USD"],"seatbid":[{"bid":[{"id":"b","impid":"0","price":"1.5","nurl":"http://x/"}]}]}`),
		[]byte(`{"id":"","seatbid":[],"bidid":"mezzo","cur":"KRW"}`),
		[]byte(`{"nbr":2}`),
		[]byte(`{"id":7,"bidid":42,"seatbid":[{"seat":7,"bid":[{"id":"a","impid":0,"price":1.25,"crid":188,"adomain":"a.example"},{"id":"b","impid":"1","price":""}]}]}`),
		[]byte(`{"seat\u0062id":[{"bid":[{},{},{}]}]}`),
	)
}

// FuzzParseBidResponse: a DSP's answer never panics the decoder; a decoded
// answer has at most the bound of bids, the quick look (moreBidsThan)
// agrees with the exact count on the answer written out plainly, and every
// accepted price is a positive amount under the cap.
func FuzzParseBidResponse(f *testing.F) {
	for _, a := range fixtureAnswers(f) {
		f.Add(a, uint8(5))
	}
	f.Fuzz(func(t *testing.T, body []byte, bound uint8) {
		maxBids := int(bound%12) + 1
		r, err := parseBidResponse(body, maxBids)
		if err != nil || r == nil {
			return
		}
		n := 0
		plain := map[string]any{"seatbid": []any{}}
		for _, sb := range r.SeatBid {
			n += len(sb.Bid)
			bids := make([]json.RawMessage, len(sb.Bid))
			for i := range bids {
				bids[i] = json.RawMessage(`{}`)
			}
			plain["seatbid"] = append(plain["seatbid"].([]any), map[string]any{"bid": bids})
			for _, b := range sb.Bid {
				if p, err := priceMicros(b.Price, 750_000); err == nil && (p < 0 || p > maxPriceMicros) {
					t.Fatalf("price %q gave %d micro-USD, outside 0..%d", b.Price, p, maxPriceMicros)
				}
			}
		}
		if n > maxBids {
			t.Fatalf("%d bids decoded with a bound of %d", n, maxBids)
		}
		canonical, _ := json.Marshal(plain)
		for _, limit := range []int{n - 1, n} {
			if got := moreBidsThan(canonical, limit); got != (n > limit) {
				t.Fatalf("moreBidsThan(%s, %d) = %v with %d bids", canonical, limit, got, n)
			}
		}
	})
}

// FuzzReadAnswer: the whole read path (gunzip, bounded read, decode) never
// panics, and a gzipped answer decodes exactly like the plain one.
func FuzzReadAnswer(f *testing.F) {
	for _, a := range fixtureAnswers(f) {
		f.Add(a, true)
		f.Add(a, false)
	}
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, false) // a gzip header alone
	f.Fuzz(func(t *testing.T, body []byte, compress bool) {
		plain, _, perr := readAnswer(bytes.NewReader(body), "", 10, false)
		// The bytes as a DSP labelled gzip: garbage must be an error, not a panic.
		readAnswer(bytes.NewReader(body), "gzip", 10, false)
		if !compress {
			return
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(body)
		zw.Close()
		zipped, kept, zerr := readAnswer(bytes.NewReader(z.Bytes()), "x-gzip", 10, true)
		if (perr == nil) != (zerr == nil) || !reflect.DeepEqual(plain, zipped) {
			t.Fatalf("gzip changed the answer: %+v (%v) vs %+v (%v)", plain, perr, zipped, zerr)
		}
		if zerr == nil && len(body) > 0 && !bytes.Equal(kept, body) {
			t.Fatalf("kept %q, sent %q", kept, body)
		}
	})
}

// FuzzCanonicalMacros: rewriting $-less and brace-escaped macros is
// idempotent (a stored nurl rewritten again stays the same), only ever
// adds "$" or "%24", and after expansion no canonical AUCTION_PRICE macro
// is left.
func FuzzCanonicalMacros(f *testing.F) {
	for _, u := range []string{
		"http://a/?p=${AUCTION_PRICE}", "http://a/?p={AUCTION_PRICE}", "http://a/?p=%7BAUCTION_PRICE%7D",
		"http://a/?p=%24%7BAUCTION_PRICE%7D", "http://a/?p=$%7BAUCTION_PRICE%7D", "http://a/?p=$%7bAUCTION_PRICE%7d&a=${AUCTION_ID}",
		"{AUCTION_PRICE}", "http://a/?x=%7bAUCTION_BID_ID%7d&y=", "http://first.example/w?p=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}",
		"http://127.0.0.1:1/w?p=${AUCTION_PRICE}&ad=${AUCTION_AD_ID}", "$$%7BAUCTION_", "%24{AUCTION_PRICE}",
	} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u string) {
		c := canonicalMacros(u)
		if again := canonicalMacros(c); again != c {
			t.Fatalf("not idempotent: %q → %q → %q", u, c, again)
		}
		// Only "$" or "%24" is ever added (or a "$" written as "%24").
		strip := strings.NewReplacer("$", "", "%24", "")
		if strip.Replace(c) != strip.Replace(u) {
			t.Fatalf("%q → %q changed more than macro prefixes", u, c)
		}
		out := macros.Expand(c, macros.Values{Price: "1.5", AuctionID: "a", BidID: "b", ImpID: "i", SeatID: "s", AdID: "d", Currency: "USD"})
		if strings.Contains(out, "${AUCTION_PRICE}") && !strings.Contains(u, "${${AUCTION_PRICE}") {
			t.Fatalf("%q expanded to %q, a price macro left", u, out)
		}
	})
}
