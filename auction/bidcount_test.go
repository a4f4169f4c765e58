package auction

import (
	"strings"
	"testing"
)

func TestMoreBidsThan(t *testing.T) {
	cases := []struct {
		body  string
		bids  int // the real number of bids
		blind bool
	}{
		{`{}`, 0, false},
		{`{"seatbid":[]}`, 0, false},
		{`{"seatbid":[{"bid":[]}]}`, 0, false},
		{`{"seatbid":[{"bid":[{"id":"a"}]}]}`, 1, false},
		{`{"seatbid":[{"bid":[{"id":"a"},{"id":"b"}]},{"seat":"x","bid":[{"id":"c"}]}]}`, 3, false},
		{` { "SeatBid" : [ { "BID" : [ {} , {} ] } ] } `, 2, false},
		// Brackets, braces, commas and quotes inside strings are not structure.
		{`{"id":"[{,}]","seatbid":[{"seat":"\"]}","bid":[{"adm":"<a href=\"x\">[1,2]</a>"},{"nurl":"http://x/?a=1,2"}]}]}`, 2, false},
		// Nested arrays elsewhere do not count; nor does a "bid" key that
		// is not in a seatbid.
		{`{"ext":{"bid":[1,2,3]},"seatbid":[{"bid":[{"adomain":["a","b","c"]}],"ext":{"bid":[1,2]}}]}`, 1, false},
		{`{"seatbid":[{"bid":[1,"x",null,true,{}]}]}`, 5, false},
		// An escaped key is not recognised here: the exact count after
		// decoding refuses such an answer.
		{`{"seat\u0062id":[{"bid":[{},{}]}]}`, 2, true},
	}
	for _, c := range cases {
		for limit := 0; limit <= c.bids+1; limit++ {
			want := c.bids > limit && !c.blind
			if got := moreBidsThan([]byte(c.body), limit); got != want {
				t.Errorf("moreBidsThan(%s, %d) = %v, want %v", c.body, limit, got, want)
			}
		}
	}
	// Garbage gives some answer, never a panic or a long loop.
	for _, g := range []string{`"`, `{"seatbid":[{"bid":[`, `}}]]`, `{"seatbid":"[{"`, strings.Repeat("[", 1<<16), `{"a":"\`} {
		moreBidsThan([]byte(g), 3)
	}
}

// An answer over the bound is refused whether or not the quick look sees
// its bids.
func TestParseBidResponseBound(t *testing.T) {
	for _, body := range []string{
		`{"seatbid":[{"bid":[{"id":"a","impid":"0"},{"id":"b","impid":"0"},{"id":"c","impid":"0"}]}]}`,
		`{"seat\u0062id":[{"bid":[{"id":"a","impid":"0"},{"id":"b","impid":"0"},{"id":"c","impid":"0"}]}]}`,
		`{"seatbid":[{"bi\u0064":[{"id":"a","impid":"0"},{"id":"b","impid":"0"}]},{"bid":[{"id":"c","impid":"0"}]}]}`,
	} {
		if _, err := parseBidResponse([]byte(body), 2); err == nil || !strings.Contains(err.Error(), "more than 2 bids") {
			t.Errorf("%s: error %v, want more than 2 bids", body, err)
		}
		r, err := parseBidResponse([]byte(body), 3)
		if err != nil || r == nil {
			t.Fatalf("%s: %v", body, err)
		}
		n := 0
		for _, sb := range r.SeatBid {
			n += len(sb.Bid)
		}
		if n != 3 {
			t.Errorf("%s: %d bids decoded, want 3", body, n)
		}
	}
}
