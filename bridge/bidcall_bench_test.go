package bridge

import (
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkParseBidCall is the /bid body decoding alone, on the richest
// AdServer body of testdata (every context field, the keyword tree, two
// slots) and on the plain one of the load benchmarks; the std cases are
// the reference decoder (encoding/json) on the same bodies, for the ratio.
func BenchmarkParseBidCall(b *testing.B) {
	raw, err := os.ReadFile("testdata/every-context-field.json")
	if err != nil {
		b.Fatal(err)
	}
	var fx struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		body []byte
	}{{"every-field", fx.Body}, {"simple", []byte(simpleBid(creativePNG))}} {
		for _, d := range []struct {
			name  string
			parse func([]byte) (*BidCall, error)
		}{{"fast", ParseBidCall}, {"std", parseBidCallStd}} {
			b.Run(c.name+"/"+d.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := d.parse(c.body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
