package auction

import (
	"context"
	"testing"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/store"
)

func benchDSPs(b *testing.B) []*dspsim.Server {
	var out []*dspsim.Server
	for _, p := range []string{"1.00", "2.50", "1.75"} {
		s := dspsim.New(dspsim.Options{Price: p})
		b.Cleanup(s.Close)
		out = append(out, s)
	}
	return out
}

// nopSaver stores nothing: for benchmarks and tests of the auction alone.
type nopSaver struct{}

func (nopSaver) Save(context.Context, []store.Auction) error { return nil }

// BenchmarkAuction is Auctioneer.Run alone (no HTTP in front, no database
// behind) with 3 simulated DSPs, the DSPs' own work included.
func BenchmarkAuction(b *testing.B) {
	sims := benchDSPs(b)
	cfg := auctionConfig(testDSP("a", sims[0].Endpoint()), testDSP("b", sims[1].Endpoint()), testDSP("c", sims[2].Endpoint()))
	a, err := NewAuctioneer(cfg, nopSaver{}, nil, discard)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	req := newEnvWithSaver(b, cfg, nopSaver{}).request(creativePNG, creativeJPEG)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := a.Run(context.Background(), req); len(res.Wins) != 2 {
			b.Fatalf("result %+v", res)
		}
	}
}
