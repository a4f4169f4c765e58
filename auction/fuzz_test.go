package auction

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/adshares/dsp-bridge/config"
)

// fixtureAnswers are the DSP answers of auction/testdata (both dialects),
// for seeding the fuzzers with real shapes.
func fixtureAnswers(f testing.TB) [][]byte {
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
		[]byte(`{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"0","cat":"iab1","attr":["6",{"x":1}],"w":"300","h":-1,"mtype":9,"exp":1e99}]}]}`),
		[]byte(`{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"0","cat":[null,"IAB7-39"],"adomain":{"0":"a.example"},"crid":7,"cid":8}]}]}`),
	)
}

// FuzzParseBidResponse: a DSP's answer never panics the decoder; a decoded
// answer has at most the bound of bids, the quick look (moreBidsThan)
// agrees with the exact count on the answer written out plainly, every
// accepted price is a positive amount under the cap, and a bid the DSP
// rules accept carries only bounded, decoded details.
func FuzzParseBidResponse(f *testing.F) {
	for _, a := range fixtureAnswers(f) {
		f.Add(a, uint8(5))
	}
	p := policy{block: newBlockLists(config.Blocking{Presets: []string{"mopub"}, BAttr: []int{6}}, config.Blocking{}),
		require: config.RequirableFields}
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
			for i := range sb.Bid {
				b := &sb.Bid[i]
				if p, err := priceMicros(b.Price, 750_000); err == nil && (p < 0 || p > maxPriceMicros) {
					t.Fatalf("price %q gave %d micro-USD, outside 0..%d", b.Price, p, maxPriceMicros)
				}
				if _, _, ok := p.judgeBid(b, nil); ok && (b.problem != "" || len(b.Cat) > maxBidListLen || b.MType > 4) {
					t.Fatalf("accepted bid %+v", b)
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
