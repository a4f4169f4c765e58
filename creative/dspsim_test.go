package creative

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/macros"
)

// simBid asks a simulated DSP for a bid and returns it.
func simBid(t *testing.T, s *dspsim.Server, req string) openrtb2.Bid {
	t.Helper()
	resp, err := http.Post(s.Endpoint(), "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var br openrtb2.BidResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil || len(br.SeatBid) == 0 {
		t.Fatalf("%v %+v", err, br)
	}
	return br.SeatBid[0].Bid[0]
}

// A DSP answering with image markup: the resolver fetches exactly the image
// (no pixel, no nurl: those are notices for later), and the data: URI is its
// bytes.
func TestSimulatedImageMarkupDSP(t *testing.T) {
	s := dspsim.New(dspsim.Options{Creative: dspsim.CreativeImage, BareMacros: true})
	defer s.Close()
	bid := simBid(t, s, `{"id":"a1","imp":[{"id":"1","banner":{"format":[{"w":320,"h":50}]}}]}`)
	r := New(http.DefaultClient, Config{})
	defer r.Close()
	v := macros.Values{AuctionID: "a1", Price: "1.00", Currency: "USD", ImpID: "1", BidID: bid.ID}
	c, err := r.Markup(context.Background(), Slot{Type: "image", Mime: MimePNG, W: 320, H: 50}, bid.AdM, v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != PathMarkupImage || c.W != 320 || !strings.HasPrefix(c.ClickURL, s.URL()+"/click?price=1.00&cur=USD&auction=a1") ||
		len(c.ImpressionURLs) != 1 || !strings.HasPrefix(c.ImpressionURLs[0], s.URL()+"/pixel?price=1.00") {
		t.Fatalf("%+v", c)
	}
	if s.Hits(dspsim.HitImage) != 1 || s.Hits(dspsim.HitPixel) != 0 || s.Hits(dspsim.HitWin) != 0 {
		t.Fatalf("hits: image %d pixel %d win %d", s.Hits(dspsim.HitImage), s.Hits(dspsim.HitPixel), s.Hits(dspsim.HitWin))
	}
	// The next auction's bid costs no fetch.
	bid = simBid(t, s, `{"id":"a2","imp":[{"id":"1","banner":{"format":[{"w":320,"h":50}]}}]}`)
	if c, err = r.Markup(context.Background(), Slot{Type: "image", Mime: MimePNG, W: 320, H: 50}, bid.AdM, v); err != nil || !c.Cached {
		t.Fatalf("second auction: %+v %v", c, err)
	}
	if s.Hits(dspsim.HitImage) != 1 {
		t.Fatalf("image fetched %d times", s.Hits(dspsim.HitImage))
	}
}

// A DSP answering with a VAST wrapper: the resolver fetches the inline
// document once and the media file once, fires nothing, and collects the
// impressions of both documents.
func TestSimulatedVASTWrapperDSP(t *testing.T) {
	video, err := os.ReadFile("testdata/media/tiny.mp4")
	if err != nil {
		t.Fatal(err)
	}
	s := dspsim.New(dspsim.Options{Creative: dspsim.CreativeVAST, VASTWrapper: true, VideoBytes: video})
	defer s.Close()
	bid := simBid(t, s, `{"id":"a1","imp":[{"id":"1","video":{"w":640,"h":360,"mimes":["video/mp4"]}}]}`)
	r := New(http.DefaultClient, Config{})
	defer r.Close()
	c, err := r.Markup(context.Background(), Slot{Type: "video", Mime: MimeMP4, W: 640, H: 360}, bid.AdM, macros.Values{Price: "2.5"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != PathVAST || c.Wrappers != 1 || string(c.Bytes) != string(video) || len(c.ImpressionURLs) != 2 ||
		!strings.Contains(c.ImpressionURLs[1], "price=2.5") || len(c.Tracking) != 2 || !strings.HasPrefix(c.ClickURL, s.URL()+"/click") {
		t.Fatalf("%+v", c)
	}
	if s.Hits(dspsim.HitVAST) != 1 || s.Hits(dspsim.HitMedia) != 1 || s.Hits(dspsim.HitImpression) != 0 || s.Hits(dspsim.HitEvent) != 0 {
		t.Fatalf("hits: vast %d media %d impression %d event %d", s.Hits(dspsim.HitVAST), s.Hits(dspsim.HitMedia), s.Hits(dspsim.HitImpression), s.Hits(dspsim.HitEvent))
	}
}

// The wrong-size creative a simulated DSP can be told to send is refused.
func TestSimulatedWrongSizeDSP(t *testing.T) {
	s := dspsim.New(dspsim.Options{Creative: dspsim.CreativeImage, ImageSize: "300x251"})
	defer s.Close()
	bid := simBid(t, s, `{"id":"a1","imp":[{"id":"1","banner":{"format":[{"w":300,"h":250}]}}]}`)
	r := New(http.DefaultClient, Config{})
	defer r.Close()
	if _, err := r.Markup(context.Background(), banner, bid.AdM, macros.Values{}); ReasonOf(err) != ReasonMismatch {
		t.Fatalf("error %v, want creative_mismatch", err)
	}
}
