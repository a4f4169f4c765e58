package dspsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultCall makes one request to a surface of s: a BidRequest to the bid
// endpoint, a creative image (nurl surface) or a bill (burl surface).
func faultCall(ctx context.Context, s *Server, surface Surface) (*http.Response, []byte, error) {
	var req *http.Request
	switch surface {
	case SurfaceBid:
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint(), strings.NewReader(request))
	case SurfaceNURL:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/creative/300x250.png", nil)
	default:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/bill?auction=a1&bid=b1", nil)
	}
	// A fresh connection per call, and redirects not followed: the test
	// sees exactly what the fault sent.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func always(f Fault) func(Surface) Fault { return func(Surface) Fault { return f } }

// Every fault of every surface does what it says, and is counted.
func TestEveryFaultOfEverySurface(t *testing.T) {
	const canary = "http://127.0.0.2:9"
	for _, surface := range Surfaces {
		for _, fault := range SurfaceFaults(surface) {
			t.Run(string(surface)+"/"+string(fault), func(t *testing.T) {
				s := New(Options{Fault: always(fault), RedirectTo: canary, Creative: CreativeImage})
				defer s.Close()
				if fault == FaultHang {
					checkHang(t, s, surface)
				} else {
					checkFault(t, s, surface, fault, canary)
				}
				if n := s.FaultCounts()[surface][fault]; n != 1 {
					t.Errorf("counted %d %s faults on %s, want 1: %v", n, fault, surface, s.FaultCounts())
				}
			})
		}
	}
}

func checkFault(t *testing.T, s *Server, surface Surface, fault Fault, canary string) {
	t.Helper()
	resp, body, err := faultCall(context.Background(), s, surface)
	if fault == FaultReset {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("want a connection reset, got %v (%v)", err, resp)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	switch fault {
	case Fault5xx:
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d", resp.StatusCode)
		}
	case FaultGarbage:
		_, _, imgErr := image.DecodeConfig(bytes.NewReader(body))
		if resp.StatusCode != 200 || json.Valid(body) || imgErr == nil {
			t.Fatalf("status %d, body %q is JSON or an image", resp.StatusCode, body)
		}
	case FaultHuge:
		if resp.StatusCode != 200 || len(body) < 10<<20 {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
	case FaultRedirect:
		want, path := http.StatusFound, "/creative/300x250.png"
		switch surface {
		case SurfaceBid:
			want, path = http.StatusTemporaryRedirect, "/openrtb2/auction"
		case SurfaceBURL:
			path = "/bill?auction=a1&bid=b1"
		}
		if resp.StatusCode != want || resp.Header.Get("Location") != canary+path {
			t.Fatalf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	case FaultURL:
		var r struct {
			SeatBid []struct {
				Bid []struct{ NURL, BURL, AdM string } `json:"bid"`
			} `json:"seatbid"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.SeatBid) != 1 || len(r.SeatBid[0].Bid) != 1 {
			t.Fatalf("%v: %s", err, body)
		}
		b := r.SeatBid[0].Bid[0]
		if !strings.HasPrefix(b.NURL, canary+"/") || !strings.HasPrefix(b.BURL, canary+"/") ||
			strings.Count(b.AdM, canary+"/") != 3 || strings.Contains(b.AdM, s.URL()) {
			t.Fatalf("URLs not all on %s: %+v", canary, b)
		}
	default:
		t.Fatalf("no check for %s", fault)
	}
	if surface == SurfaceBURL {
		// A bill answered 200 was received; any other answer was not.
		if got, want := len(s.Bills()), map[bool]int{true: 1}[faultAnswers2xx(fault)]; got != want || s.BillHits() != 1 {
			t.Errorf("%d bills recorded (%d hits), want %d", got, s.BillHits(), want)
		}
	}
}

// checkHang: nothing comes back until the caller gives up.
func checkHang(t *testing.T, s *Server, surface Surface) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := faultCall(ctx, s, surface)
		done <- err
	}()
	for s.FaultCounts()[surface][FaultHang] == 0 {
		select {
		case err := <-done:
			t.Fatalf("answered before the hang was counted: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	select {
	case err := <-done:
		t.Fatalf("a hanging %s answered: %v", surface, err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("want the caller's own cancellation, got %v", err)
	}
}

// With no fault picked every surface answers normally, and RandomFaults
// deals every kind once before any kind twice.
func TestRandomFaultsDealsEveryKind(t *testing.T) {
	kinds := map[Surface][]Fault{SurfaceBid: SurfaceFaults(SurfaceBid), SurfaceBURL: {Fault5xx, FaultReset}}
	pick := RandomFaults(1, 7, kinds)
	for round := 0; round < 3; round++ {
		seen := map[Fault]bool{}
		for range kinds[SurfaceBid] {
			seen[pick(SurfaceBid)] = true
		}
		if len(seen) != len(kinds[SurfaceBid]) {
			t.Fatalf("round %d dealt %v, want each of %v once", round, seen, kinds[SurfaceBid])
		}
	}
	if f := pick(SurfaceNURL); f != "" {
		t.Fatalf("a surface without kinds got %q", f)
	}
	never := RandomFaults(0, 7, kinds)
	for range 100 {
		if f := never(SurfaceBid); f != "" {
			t.Fatalf("rate 0 gave %q", f)
		}
	}
	s := New(Options{Fault: never, Creative: CreativeImage})
	defer s.Close()
	for _, surface := range Surfaces {
		resp, _, err := faultCall(context.Background(), s, surface)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", surface, err, resp)
		}
	}
	if len(s.FaultCounts()) != 0 {
		t.Fatalf("faults counted: %v", s.FaultCounts())
	}
}

// CreativeQuery makes every auction's image another URL.
func TestCreativeQueryMakesEveryImageURLDistinct(t *testing.T) {
	s := New(Options{Creative: CreativeImage, CreativeQuery: true})
	defer s.Close()
	_, body := post(t, s)
	if !strings.Contains(body, `/creative/300x250.png?price=${AUCTION_PRICE}&amp;`) {
		t.Fatalf("image URL without the notice query: %s", body)
	}
	resp, err := http.Get(s.URL() + "/creative/300x250.png?price=1&auction=x")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp)
	}
	resp.Body.Close()
}
