package auction

import "testing"

// benchAnswer is a one-bid answer as dspsim writes it (markup, notice
// URLs with macros), the shape of most answers under load.
const benchAnswer = `{"bidid":"sim-17","cur":"USD","id":"4f9c2a6e-0b7d-4c1e-9a55-2d7f3e8b1c90","seatbid":[{"bid":[{"id":"17-0","impid":"0","price":1.00,"adid":"ad-0","nurl":"http://127.0.0.1:40123/win?price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&seat=${AUCTION_SEAT_ID}&ad=${AUCTION_AD_ID}","burl":"http://127.0.0.1:40123/bill?price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&seat=${AUCTION_SEAT_ID}&ad=${AUCTION_AD_ID}","adm":"<a href=\"http://127.0.0.1:40123/click\"><img src=\"http://127.0.0.1:40123/img/300x250.png\" width=\"300\" height=\"250\"></a>","adomain":["advertiser.example"],"crid":"cr-0","w":300,"h":250}],"seat":"sim"}]}`

// BenchmarkParseBidResponse is the DSP answer decoding alone; std is the
// reference decoder (encoding/json) on the same answer, for the ratio.
func BenchmarkParseBidResponse(b *testing.B) {
	body := []byte(benchAnswer)
	for _, d := range []struct {
		name  string
		parse func([]byte, int) (*bidResponse, error)
	}{{"fast", parseBidResponse}, {"std", referenceParse}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, err := d.parse(body, 5); err != nil || r == nil || len(r.SeatBid[0].Bid) != 1 {
					b.Fatal(r, err)
				}
			}
		})
	}
}
