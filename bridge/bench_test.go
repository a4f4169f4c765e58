package bridge

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
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

// BenchmarkBid is one whole POST /bid with two slots over loopback HTTP:
// parse, fan-out to 3 simulated DSPs, validation, winner, the win stored in
// PostgreSQL, the answer.
func BenchmarkBid(b *testing.B) {
	sims := benchDSPs(b)
	cfg := auctionConfig(testDSP("a", sims[0].Endpoint()), testDSP("b", sims[1].Endpoint()), testDSP("c", sims[2].Endpoint()))
	e := newEnvWithStore(b, cfg, testdb.New(b))
	body := simpleBid(creativePNG, creativeJPEG)
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(e.url+"/bid", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var buf [512]byte
		n, _ := resp.Body.Read(buf[:])
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(buf[:n]), "ext_id") {
			b.Fatalf("answer %d %s", resp.StatusCode, buf[:n])
		}
	}
}

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
	call, err := ParseBidCall([]byte(simpleBid(creativePNG, creativeJPEG)))
	if err != nil {
		b.Fatal(err)
	}
	cfgCat := cfg.Inventory.Campaigns[0].Creatives
	slots := []Slot{}
	for i, s := range call.Slots {
		cr := cfgCat[i]
		slots = append(slots, Slot{Request: s, Creative: creativeOf(cr.ID, cr.Type, cr.Mime, cr.Size)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := a.Run(context.Background(), call, slots); len(res.Wins) != 2 {
			b.Fatalf("result %+v", res)
		}
	}
}
