package dspsim

import (
	"encoding/json"
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
