package bridge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/dspsim"
)

func benchDSPs(b testing.TB) []*dspsim.Server {
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
	e := newEnv(b, cfg)
	body := simpleBid(creativePNG, creativeJPEG)
	postBids(b, e.url, body)
}

// BenchmarkBidOneSlot is BenchmarkBid in the shape of the goal
// (bridge bench --dsps 1 --slots 1): one DSP, one slot.
func BenchmarkBidOneSlot(b *testing.B) {
	sims := benchDSPs(b)
	e := newEnv(b, auctionConfig(testDSP("a", sims[0].Endpoint())))
	body := simpleBid(creativePNG)
	postBids(b, e.url, body)
}

// postBids posts body to url's /bid once per iteration and checks each
// answer carries a win.
func postBids(b *testing.B, url, body string) {
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(url+"/bid", "application/json", strings.NewReader(body))
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
