package auction

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// BenchmarkEncodeBidRequest encodes each fixture request (2.6 and 2.5,
// with schain, regs, user.ext keywords) as call did before
// (enc=json: Encoder.Encode into a fresh buffer) and does now
// (enc=append); compare with benchstat -col /enc.
func BenchmarkEncodeBidRequest(b *testing.B) {
	var reqs []*openrtb2.BidRequest
	size := 0
	for _, raw := range fixtureRequests(b) {
		r := new(openrtb2.BidRequest)
		if err := json.Unmarshal(raw, r); err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, r)
		size += len(raw)
	}
	b.Run("enc=json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, r := range reqs {
				buf := bytes.NewBuffer(make([]byte, 0, 2048))
				if err := json.NewEncoder(buf).Encode(r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("enc=append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, r := range reqs {
				if _, err := appendRequestJSON(make([]byte, 0, 2048), r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkValidJSON checks an AdServer keywords tree (user.ext) the way
// aRaw does (validJSON) and as it did before (json.Valid).
func BenchmarkValidJSON(b *testing.B) {
	ext := []byte(`{"adshares_keywords":{"site":{"domain":["example.com","www.example.com"],"tag":["news","sport"],"quality":["high"]},` +
		`"device":{"type":["desktop"],"os":["windows"],"browser":["chrome"],"crawler":[false]},"user":{"country":["pl"],"language":["pl","en"],"human_score":[0.9]}}}`)
	for _, c := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validJSON", validJSON}, {"json.Valid", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(ext)))
			for b.Loop() {
				if !c.valid(ext) {
					b.Fatal("refused")
				}
			}
		})
	}
}
