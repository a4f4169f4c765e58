package dspsim

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const request = `{"id":"a1","imp":[{"id":"1","banner":{"format":[{"w":300,"h":250}]}}],"cur":["USD"]}`

func post(t *testing.T, s *Server) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Post(s.Endpoint(), "application/json", strings.NewReader(request))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBidAndNotices(t *testing.T) {
	s := New(Options{Price: "2.50", ADomain: []string{"shop.example"}})
	defer s.Close()
	status, body := post(t, s)
	var r struct {
		Cur     string `json:"cur"`
		SeatBid []struct {
			Bid []struct {
				ImpID, NURL, BURL string
				Price             json.Number
			} `json:"bid"`
		} `json:"seatbid"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	b := r.SeatBid[0].Bid[0]
	if r.Cur != "USD" || b.ImpID != "1" || b.Price != "2.50" || !strings.HasPrefix(b.NURL, s.URL()+"/win?price=${AUCTION_PRICE}") {
		t.Fatalf("bid %+v", r)
	}
	if s.RequestCount() != 1 || s.Requests()[0].Request.ID != "a1" {
		t.Fatalf("recorded %+v", s.Requests())
	}
	resp, err := http.Get(s.URL() + "/win?price=2.50")
	if err != nil || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("win: %v %v", err, resp)
	}
	if len(s.Wins()) != 1 || s.Wins()[0].Get("price") != "2.50" {
		t.Fatalf("wins %v", s.Wins())
	}
}

func TestBillFailuresThenSuccess(t *testing.T) {
	s := New(Options{BillFailures: 2})
	defer s.Close()
	var codes []int
	for range 3 {
		resp, err := http.Get(s.URL() + "/bill?price=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 503 || codes[1] != 503 || codes[2] != 200 || s.BillHits() != 3 || len(s.Bills()) != 1 {
		t.Fatalf("codes %v hits %d bills %d", codes, s.BillHits(), len(s.Bills()))
	}
	s4 := New(Options{BillStatus: 404})
	defer s4.Close()
	resp, _ := http.Get(s4.URL() + "/bill")
	if resp.StatusCode != 404 || len(s4.Bills()) != 0 {
		t.Fatalf("BillStatus: %d", resp.StatusCode)
	}
}

func TestModes(t *testing.T) {
	cases := map[Mode]struct {
		status int
		body   string
	}{
		Mode5xx:          {500, "simulated failure\n"},
		ModeNoBid204:     {204, ""},
		ModeNoBidEmpty:   {200, ""},
		ModeNoBidObject:  {200, "{}"},
		ModeNoBidSeatbid: {200, `{"id":"a1","seatbid":[]}`},
		ModeNoBidNBR:     {200, `{"id":"a1","nbr":2}`},
		ModeGarbage:      {200, "<html>this is not OpenRTB</html>"},
	}
	s := New(Options{})
	defer s.Close()
	for m, want := range cases {
		s.SetMode(m)
		if status, body := post(t, s); status != want.status || body != want.body {
			t.Errorf("%s: %d %q, want %d %q", m, status, body, want.status, want.body)
		}
	}
	s.SetMode(ModeHuge)
	if _, body := post(t, s); len(body) < 10<<20 {
		t.Errorf("huge answer is %d bytes", len(body))
	}
}

func TestHangEndsOnClose(t *testing.T) {
	s := New(Options{Mode: ModeHang})
	done := make(chan int)
	go func() { status, _ := post(t, s); done <- status }()
	for s.RequestCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	select {
	case status := <-done:
		if status == 200 {
			t.Fatal("a hanging DSP answered 200")
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not release the hanging call")
	}
}

func TestFailEvery(t *testing.T) {
	s := New(Options{FailEvery: 3})
	defer s.Close()
	var fails int
	for range 9 {
		if status, _ := post(t, s); status == 500 {
			fails++
		}
	}
	if fails != 3 {
		t.Fatalf("%d failures in 9 calls, want 3", fails)
	}
	if _, err := ParseMode("nope"); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

func TestBillingURLSeparateFromPublicURL(t *testing.T) {
	s := New(Options{PublicURL: "http://127.0.0.1:9001/", BillingURL: "http://dsp:9001"})
	defer s.Close()
	_, body := post(t, s)
	var r struct {
		SeatBid []struct {
			Bid []struct{ NURL, BURL string } `json:"bid"`
		} `json:"seatbid"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	b := r.SeatBid[0].Bid[0]
	if !strings.HasPrefix(b.NURL, "http://127.0.0.1:9001/win?") || !strings.HasPrefix(b.BURL, "http://dsp:9001/bill?") {
		t.Fatalf("nurl %s burl %s: want the nurl on the public URL and the burl on the billing URL", b.NURL, b.BURL)
	}
}

func bidOf(t *testing.T, s *Server, req string) (adm string, w, h int64, nurl string) {
	t.Helper()
	resp, err := http.Post(s.Endpoint(), "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		SeatBid []struct {
			Bid []struct {
				AdM, NURL string
				W, H      int64
			} `json:"bid"`
		} `json:"seatbid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.SeatBid) == 0 {
		t.Fatalf("%v %+v", err, r)
	}
	b := r.SeatBid[0].Bid[0]
	return b.AdM, b.W, b.H, b.NURL
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestImageMarkupBid(t *testing.T) {
	s := New(Options{Creative: CreativeImage})
	defer s.Close()
	adm, w, h, nurl := bidOf(t, s, request)
	if w != 300 || h != 250 || !strings.Contains(nurl, "/win?") {
		t.Fatalf("bid %dx%d nurl %q", w, h, nurl)
	}
	want := `<a href="` + s.URL() + `/click?price=${AUCTION_PRICE}&amp;cur=${AUCTION_CURRENCY}`
	if !strings.HasPrefix(adm, want) || !strings.Contains(adm, `<img src="`+s.URL()+`/creative/300x250.png"`) ||
		!strings.Contains(adm, `<img src="`+s.URL()+`/pixel?price=${AUCTION_PRICE}&amp;`) {
		t.Fatalf("adm %s", adm)
	}
	resp, b := get(t, s.URL()+"/creative/300x250.png")
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 300 || cfg.Height != 250 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("image %v %+v %v", err, cfg, resp.Header)
	}
	get(t, s.URL()+"/pixel?price=1.5")
	resp, _ = http.DefaultTransport.RoundTrip(mustReq(t, s.URL()+"/click?x=1"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://advertiser.example/" {
		t.Fatalf("click %d %v", resp.StatusCode, resp.Header)
	}
	if s.Hits(HitImage) != 1 || s.Hits(HitPixel) != 1 || s.HitQueries(HitPixel)[0].Get("price") != "1.5" || s.Hits(HitClick) != 1 || s.Hits(HitWin) != 0 {
		t.Fatalf("hits image %d pixel %d click %d win %d", s.Hits(HitImage), s.Hits(HitPixel), s.Hits(HitClick), s.Hits(HitWin))
	}

	// A wrong-size creative on purpose; bare macros for a 2.5 DSP.
	s2 := New(Options{Creative: CreativeImage, ImageSize: "300x251", BareMacros: true})
	defer s2.Close()
	adm, _, _, _ = bidOf(t, s2, request)
	if !strings.Contains(adm, "/creative/300x251.png") || !strings.Contains(adm, "price={AUCTION_PRICE}") {
		t.Fatalf("adm %s", adm)
	}
}

func TestVASTBid(t *testing.T) {
	video := []byte("\x00\x00\x00\x18ftypisom-not-really-a-video")
	s := New(Options{Creative: CreativeVAST, VideoBytes: video})
	defer s.Close()
	const videoReq = `{"id":"a1","imp":[{"id":"1","video":{"w":640,"h":360,"mimes":["video/mp4"]}}],"cur":["USD"]}`
	adm, w, h, _ := bidOf(t, s, videoReq)
	if w != 640 || h != 360 || !strings.Contains(adm, `<VAST version="4.0">`) ||
		!strings.Contains(adm, `type="video/mp4" width="640" height="360"><![CDATA[`+s.URL()+`/media/video]]>`) ||
		!strings.Contains(adm, s.URL()+"/impression?price=${AUCTION_PRICE}") {
		t.Fatalf("adm %s", adm)
	}
	resp, b := get(t, s.URL()+"/media/video")
	if !bytes.Equal(b, video) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("media %q %v", b, resp.Header)
	}
	req := mustReq(t, s.URL()+"/media/video")
	req.Header.Set("Range", "bytes=4-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(part) != "ftyp" {
		t.Fatalf("range: %d %q", resp.StatusCode, part)
	}

	sw := New(Options{Creative: CreativeVAST, VASTWrapper: true})
	defer sw.Close()
	adm, _, _, _ = bidOf(t, sw, videoReq)
	if !strings.Contains(adm, "<Wrapper>") || !strings.Contains(adm, "<VASTAdTagURI><![CDATA["+sw.URL()+"/vast/inline.xml?w=640&h=360&price=${AUCTION_PRICE}") {
		t.Fatalf("wrapper adm %s", adm)
	}
	_, doc := get(t, sw.URL()+"/vast/inline.xml?w=640&h=360&price=2.5")
	if !strings.Contains(string(doc), `width="640" height="360"`) || !strings.Contains(string(doc), "/impression?price=2.5") {
		t.Fatalf("inline document %s", doc)
	}
	_, b = get(t, sw.URL()+"/media/video")
	if !bytes.HasPrefix(b, []byte("\x00\x00\x00\x18ftyp")) {
		t.Fatalf("default media %q", b)
	}
	get(t, sw.URL()+"/impression?x=1")
	get(t, sw.URL()+"/event?e=start")
	if sw.Hits(HitVAST) != 1 || sw.Hits(HitMedia) != 1 || sw.Hits(HitImpression) != 1 || sw.Hits(HitEvent) != 1 {
		t.Fatalf("hits vast %d media %d impression %d event %d", sw.Hits(HitVAST), sw.Hits(HitMedia), sw.Hits(HitImpression), sw.Hits(HitEvent))
	}
}

func mustReq(t *testing.T, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
func TestMaxRecordedKeepsCounting(t *testing.T) {
	s := New(Options{MaxRecorded: 2})
	defer s.Close()
	for range 5 {
		if status, body := post(t, s); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	if n := len(s.Requests()); n != 2 {
		t.Fatalf("%d requests kept, want 2", n)
	}
	if n := s.RequestCount(); n != 5 {
		t.Fatalf("RequestCount %d, want 5", n)
	}
}
