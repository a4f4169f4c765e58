package auction

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testcfg"
)

func sim(t *testing.T, o dspsim.Options) *dspsim.Server {
	t.Helper()
	s := dspsim.New(o)
	t.Cleanup(s.Close)
	return s
}

func TestHighestPriceWinsAcrossThreeDSPs(t *testing.T) {
	a := sim(t, dspsim.Options{Price: "1.00"})
	b := sim(t, dspsim.Options{Price: "2.50"})
	c := sim(t, dspsim.Options{Price: "1.75"})
	e := newEnv(t, auctionConfig(testDSP("a", a.Endpoint()), testDSP("b", b.Endpoint()), testDSP("c", c.Endpoint())))
	out := e.wins(creativePNG)
	if len(out) != 1 || out[0].RequestID != "0" || len(out[0].ExtID) != 29 {
		t.Fatalf("answer %+v", out)
	}
	win, err := e.st.GetAuction(context.Background(), out[0].ExtID)
	if err != nil {
		t.Fatal(err)
	}
	if win.DSP != "b" || win.PriceMicros != 2_500_000 || win.BidPrice != "2.50" {
		t.Fatalf("winner %s at %d micro-USD (%s), want b at 2500000", win.DSP, win.PriceMicros, win.BidPrice)
	}
	for _, s := range []*dspsim.Server{a, b, c} {
		if s.RequestCount() != 1 {
			t.Fatalf("a DSP got %d requests, want 1", s.RequestCount())
		}
	}
	// The browser fetches serve_url: the winner's nurl with the macros
	// substituted, answering an image with CORS.
	if !strings.HasPrefix(out[0].ServeURL, b.URL()+"/win?price=2.50&cur=USD&auction=") {
		t.Fatalf("serve_url %s", out[0].ServeURL)
	}
	resp, err := http.Get(out[0].ServeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("serve_url answered %d %v", resp.StatusCode, resp.Header)
	}
	wins := b.Wins()
	if len(wins) != 1 || wins[0].Get("price") != "2.50" || wins[0].Get("imp") != "0" || wins[0].Get("auction") != win.AuctionID {
		t.Fatalf("win notices %v", wins)
	}
}

func TestOneHangingDSPDoesNotDelayTheAnswer(t *testing.T) {
	hang := sim(t, dspsim.Options{Mode: dspsim.ModeHang})
	ok := sim(t, dspsim.Options{Price: "1.00"})
	cfg := auctionConfig(testDSP("hang", hang.Endpoint()), testDSP("ok", ok.Endpoint()))
	cfg.Auction.TMax = time.Second
	for i := range cfg.DSPs {
		cfg.DSPs[i].Timeout = time.Second
	}
	// Wins are not stored here: a commit on a shared machine under -race
	// can miss the 100 ms reserve (a store_error), which says nothing about
	// the hanging DSP. Storing wins is pinned by the tests above.
	e := newEnvWithSaver(t, cfg, nopSaver{})
	res := e.run(e.request(creativePNG))
	// What was decided, not how long it took (timing belongs to bridge
	// bench and the end-to-end test): the answering DSP won, the hanging
	// one was cut off at the auction's deadline and counted as a timeout.
	if len(res.Wins) != 1 || res.Wins[0].DSP != "ok" || res.Outcome != AuctionWon {
		t.Fatalf("wins %+v (%s), want the answering DSP's win", res.Wins, res.Outcome)
	}
	if got := outcomeOf(res, "hang"); got != OutcomeTimeout {
		t.Fatalf("hanging DSP outcome %s", got)
	}
	if got := outcomeOf(res, "ok"); got != OutcomeBid {
		t.Fatalf("answering DSP outcome %s", got)
	}
	// tmax tells each DSP what it really has: the auction keeps a reserve.
	if tm := hang.Requests()[0].Request.TMax; tm <= 0 || tm > 1000 {
		t.Fatalf("tmax sent %d", tm)
	}
}

func TestAllDSPsHangingGivesEmptyAnswerByTmax(t *testing.T) {
	cfg := auctionConfig()
	for _, n := range []string{"h1", "h2", "h3"} {
		s := sim(t, dspsim.Options{Mode: dspsim.ModeHang})
		d := testDSP(n, s.Endpoint())
		d.Timeout = 250 * time.Millisecond
		cfg.DSPs = append(cfg.DSPs, d)
	}
	cfg.Auction.TMax = 250 * time.Millisecond
	e := newEnv(t, cfg)
	res := e.run(e.request(creativePNG, creativeJPEG))
	if len(res.Wins) != 0 || res.Outcome != AuctionNoBid {
		t.Fatalf("wins %+v (%s)", res.Wins, res.Outcome)
	}
	for _, n := range []string{"h1", "h2", "h3"} {
		if got := outcomeOf(res, n); got != OutcomeTimeout {
			t.Fatalf("%s: outcome %s, want timeout", n, got)
		}
	}
}

func TestBreakerStopsCallsAndRecovers(t *testing.T) {
	bad := sim(t, dspsim.Options{Mode: dspsim.Mode5xx})
	d := testDSP("flaky", bad.Endpoint())
	// open_for is long enough that the ten auctions below all see the breaker
	// open, even on a slow machine.
	d.Breaker = testcfg.Breaker(3, 500*time.Millisecond)
	e := newEnv(t, auctionConfig(d))
	for range 10 {
		e.wins(creativePNG)
	}
	if n := bad.RequestCount(); n != 3 {
		t.Fatalf("DSP called %d times, want 3 (then the breaker opens)", n)
	}
	if got := outcomeOf(e.run(e.request(creativePNG)), "flaky"); got != OutcomeBreakerOpen {
		t.Fatalf("outcome with open breaker: %s", got)
	}
	bad.SetMode(dspsim.ModeBid)
	// After open_for the breaker lets one probe through; poll rather than
	// guess the scheduler.
	deadline := time.Now().Add(5 * time.Second)
	var out []Win
	for len(out) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		out = e.wins(creativePNG)
	}
	if len(out) != 1 || bad.RequestCount() != 4 {
		t.Fatalf("after recovery: answer %+v, calls %d (want a win on the 4th call)", out, bad.RequestCount())
	}
	e.wins(creativePNG)
	if bad.RequestCount() != 5 {
		t.Fatalf("breaker did not close: calls %d", bad.RequestCount())
	}
}

func TestInvalidBidsAreRejectedWithReasons(t *testing.T) {
	const good = `"nurl":"http://dsp.example/w"`
	cases := []struct {
		name, body string
		reason     Reason
	}{
		{"unknown impid", `{"seatbid":[{"bid":[{"id":"x","impid":"7","price":1,` + good + `}]}]}`, ReasonUnknownImp},
		{"zero price", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":0,` + good + `}]}]}`, ReasonBadPrice},
		{"negative price", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":-1,` + good + `}]}]}`, ReasonBadPrice},
		{"no price", `{"seatbid":[{"bid":[{"id":"x","impid":"0",` + good + `}]}]}`, ReasonBadPrice},
		{"dust price", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":0.0000001,` + good + `}]}]}`, ReasonBadPrice},
		{"absurd price", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":1e12,` + good + `}]}]}`, ReasonBadPrice},
		{"below floor", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":0.09,` + good + `}]}]}`, ReasonBelowFloor},
		{"other currency", `{"cur":"EUR","seatbid":[{"bid":[{"id":"x","impid":"0","price":1,` + good + `}]}]}`, ReasonCurrency},
		{"other currency array", `{"cur":["KRW"],"seatbid":[{"bid":[{"id":"x","impid":"0","price":1,` + good + `}]}]}`, ReasonCurrency},
		{"group", `{"seatbid":[{"group":1,"bid":[{"id":"x","impid":"0","price":1,` + good + `}]}]}`, ReasonGroup},
		{"missing nurl", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":1}]}]}`, ReasonNoNURL},
		{"javascript nurl", `{"seatbid":[{"bid":[{"id":"x","impid":"0","price":1,"nurl":"javascript:alert(1)"}]}]}`, ReasonNoNURL},
		{"wrong seat", `{"seatbid":[{"seat":"other","bid":[{"id":"x","impid":"0","price":1,` + good + `}]}]}`, ReasonSeat},
	}
	s := sim(t, dspsim.Options{})
	d := testDSP("d", s.Endpoint())
	d.Seat = ""
	cfg := auctionConfig(d)
	cfg.Auction.BidFloor = "0.10"
	e := newEnv(t, cfg)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.a.set.Load().dsps[0].cfg.Seat = ""
			if tc.reason == ReasonSeat {
				e.a.set.Load().dsps[0].cfg.Seat = "mine"
			}
			s.SetRespond(func(*openrtb2.BidRequest) (int, []byte) { return 200, []byte(tc.body) })
			out := e.wins(creativePNG)
			if len(out) != 0 {
				t.Fatalf("invalid bid won: %+v", out)
			}
			res := e.obs.last(t)
			if len(res.Rejections) != 1 || res.Rejections[0].Reason != tc.reason || res.Rejections[0].BidID != "x" {
				t.Fatalf("rejections %+v, want one %s", res.Rejections, tc.reason)
			}
			if outcomeOf(res, "d") != OutcomeRejected {
				t.Fatalf("DSP outcome %s", outcomeOf(res, "d"))
			}
		})
	}
}

func TestNoBidFormsAndFailures(t *testing.T) {
	cases := []struct {
		mode    dspsim.Mode
		outcome Outcome
		reason  Reason
	}{
		{dspsim.ModeNoBid204, OutcomeNoBid, ReasonNoBid},
		{dspsim.ModeNoBidEmpty, OutcomeNoBid, ReasonNoBid},
		{dspsim.ModeNoBidObject, OutcomeNoBid, ReasonNoBid},
		{dspsim.ModeNoBidSeatbid, OutcomeNoBid, ReasonNoBid},
		{dspsim.ModeNoBidNBR, OutcomeNoBid, ReasonNoBid},
		{dspsim.ModeNoBidEmptyCur, OutcomeNoBid, ReasonNoBid},
		{dspsim.Mode5xx, OutcomeError, ReasonError},
		{dspsim.ModeGarbage, OutcomeError, ReasonInvalidResponse},
	}
	s := sim(t, dspsim.Options{})
	e := newEnv(t, auctionConfig(testDSP("d", s.Endpoint())))
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			s.SetMode(tc.mode)
			out := e.wins(creativePNG)
			if len(out) != 0 {
				t.Fatalf("answer %+v", out)
			}
			res := e.obs.last(t)
			if len(res.DSPs) != 1 || res.DSPs[0].Outcome != tc.outcome || res.DSPs[0].Reason != tc.reason {
				t.Fatalf("dsp result %+v, want %s/%s", res.DSPs, tc.outcome, tc.reason)
			}
		})
	}
	// The unreachable DSP: nothing listens there any more.
	s.Close()
	e.wins(creativePNG)
	if r := e.obs.last(t).DSPs[0]; r.Outcome != OutcomeError || r.Reason != ReasonUnreachable {
		t.Fatalf("closed DSP: %+v", r)
	}
}

func TestHugeAnswerDoesNotGrowMemory(t *testing.T) {
	huge := sim(t, dspsim.Options{Mode: dspsim.ModeHuge, HugeBytes: 10 << 20})
	e := newEnv(t, auctionConfig(testDSP("huge", huge.Endpoint())))
	e.wins(creativePNG) // warm up pools and connections
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out := e.wins(creativePNG)
	runtime.ReadMemStats(&after)
	if len(out) != 0 {
		t.Fatalf("answer %+v", out)
	}
	if r := e.obs.last(t).DSPs[0]; r.Outcome != OutcomeError || r.Reason != ReasonInvalidResponse {
		t.Fatalf("huge answer: %+v", r)
	}
	// The whole process (test client, bridge and simulator) allocated far
	// less than the 10 MB the DSP tried to send.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d kB during an auction with a 10 MB DSP answer", alloc>>10)
	if alloc > 6<<20 {
		t.Fatalf("allocated %d bytes for a 10 MB answer; reads are not bounded", alloc)
	}
}

func TestGzipAndExtraHeaders(t *testing.T) {
	s := sim(t, dspsim.Options{Gzip: true, Price: "0.8"})
	d := testDSP("gz", s.Endpoint())
	d.Gzip = true
	d.Headers = map[string]string{"X-Api-Key": "secret-1"}
	e := newEnv(t, auctionConfig(d))
	out := e.wins(creativePNG)
	if len(out) != 1 {
		t.Fatalf("answer %+v", out)
	}
	h := s.Requests()[0].Header
	if h.Get("Content-Encoding") != "gzip" || h.Get("Accept-Encoding") != "gzip" || h.Get("X-Api-Key") != "secret-1" {
		t.Fatalf("headers %v", h)
	}
}

func TestOverloadAnswersEmptyAtOnce(t *testing.T) {
	hang := sim(t, dspsim.Options{Mode: dspsim.ModeHang})
	cfg := auctionConfig(testDSP("hang", hang.Endpoint()))
	cfg.Auction.MaxConcurrent = 1
	e := newEnv(t, cfg)
	first := make(chan struct{})
	go func() { defer close(first); e.run(e.request(creativePNG)) }()
	for hang.RequestCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The second auction is refused at once: no DSP is asked, nothing waits.
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 0 || res.Outcome != AuctionOverloaded || len(res.DSPs) != 0 {
		t.Fatalf("overloaded auction: %+v", res)
	}
	<-first
	if n := hang.RequestCount(); n != 1 {
		t.Fatalf("DSP asked %d times, want 1 (the overloaded auction asks nobody)", n)
	}
}

func TestStoreDownAnswersEmpty(t *testing.T) {
	s := sim(t, dspsim.Options{})
	e := newEnv(t, auctionConfig(testDSP("d", s.Endpoint())))
	e.st.Pool.Close() // the database is gone
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 0 || res.Outcome != AuctionStoreError {
		t.Fatalf("with the database down: %+v", res)
	}
	if got := outcomeOf(res, "d"); got != OutcomeBid {
		t.Fatalf("the DSP's outcome %s: it did bid, the store failed", got)
	}
}

func TestServeURLAndNoticesOfBareMacroDSP(t *testing.T) {
	s := sim(t, dspsim.Options{BareMacros: true, Price: "1500", Currency: "KRW", CurAsArray: true})
	d := testDSP("krw", s.Endpoint())
	d.Currency, d.Dialect = "KRW", "2.5"
	e := newEnv(t, auctionConfig(d))
	out := e.wins(creativePNG)
	if len(out) != 1 {
		t.Fatalf("answer %+v", out)
	}
	u, _ := url.Parse(out[0].ServeURL)
	if q := u.Query(); q.Get("price") != "1500" || q.Get("cur") != "KRW" || q.Get("imp") != "0" {
		t.Fatalf("serve_url %s", out[0].ServeURL)
	}
	win, _ := e.st.GetAuction(context.Background(), out[0].ExtID)
	if win.PriceMicros != 1_125_000 || !strings.Contains(win.BURL, "price=${AUCTION_PRICE}") {
		t.Fatalf("stored %+v", win)
	}
	if h := s.Requests()[0].Header.Get(OpenRTBVersionHeader); h != "2.5" {
		t.Fatalf("version header %q", h)
	}
}

// A NUL byte in a string the win row stores (adid here) cannot go into
// PostgreSQL: such a bid is rejected instead of failing the whole insert,
// so the other DSP's bid still wins the slot.
func TestNULInBidIsRejectedNotFatal(t *testing.T) {
	bad := sim(t, dspsim.Options{})
	bad.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"seat":"s","bid":[{"id":"b1","impid":"0","price":2,"adid":"a\u0000b","nurl":"http://127.0.0.1:1/w"}]}]}`)
	})
	good := sim(t, dspsim.Options{Price: "1.00"})
	e := newEnv(t, auctionConfig(testDSP("bad", bad.Endpoint()), testDSP("good", good.Endpoint())))
	out := e.wins(creativePNG)
	res := e.obs.last(t)
	if len(out) != 1 || res.Outcome != AuctionWon || res.Wins[0].DSP != "good" {
		t.Fatalf("answer %+v, outcome %s, wins %+v: want the good DSP's win", out, res.Outcome, res.Wins)
	}
	if len(res.Rejections) != 1 || res.Rejections[0].DSP != "bad" || res.Rejections[0].Reason != ReasonRejected {
		t.Fatalf("rejections %+v", res.Rejections)
	}
}

// Prices with a huge exponent or thousands of digits are valid JSON, but
// exact arithmetic on them costs tens of milliseconds to seconds each: they
// are refused on their text, each costing only its own bid. (Judging runs in
// the DSP's goroutine, so even a slow answer cannot delay the auction; tmax
// is generous here so that the answer is judged under the race detector.)
func TestAbsurdPriceTextsDoNotDelayTheAnswer(t *testing.T) {
	s := sim(t, dspsim.Options{})
	s.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		var bids []string
		for i := range 64 {
			bids = append(bids, `{"id":"e`+itoa(i)+`","impid":"0","price":1e999999,"nurl":"http://127.0.0.1:1/w"}`)
		}
		bids = append(bids, `{"id":"long","impid":"0","price":1.`+strings.Repeat("3", 500_000)+`,"nurl":"http://127.0.0.1:1/w"}`)
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"bid":[` + strings.Join(bids, ",") + `]}]}`)
	})
	cfg := auctionConfig(testDSP("d", s.Endpoint()))
	// The deadline is generous: what is asserted is that every absurd price
	// is rejected as a bad price (cheaply, before exact arithmetic), not how
	// long a loaded machine takes to read a 500 kB answer under -race.
	cfg.Auction.TMax = 5 * time.Second
	cfg.DSPs[0].Timeout = 5 * time.Second
	cfg.DSPs[0].MaxBidsPerImp = 65 // all of them judged, one by one
	e := newEnv(t, cfg)
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 0 {
		t.Fatalf("wins %+v", res.Wins)
	}
	if len(res.Rejections) != 65 || res.Rejections[0].Reason != ReasonBadPrice || res.Rejections[64].Reason != ReasonBadPrice {
		t.Fatalf("%d rejections, want 65 bad prices; DSP %+v", len(res.Rejections), res.DSPs)
	}
}

// Lax DSPs echo our numeric-looking imp ids as numbers, send crid, seat or
// bidid as numbers, adomain as one string, or a price of "": the odd field
// costs at most its own bid, never the whole answer.
func TestLaxFieldTypesCostAtMostTheirBid(t *testing.T) {
	s := sim(t, dspsim.Options{})
	s.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		return 200, []byte(`{"id":"` + r.ID + `","bidid":42,"cur":"USD","seatbid":[{"seat":7,"bid":[` +
			`{"id":"a","impid":0,"price":1.25,"crid":188,"adid":99,"adomain":"advertiser.example","nurl":"http://127.0.0.1:1/w?p=${AUCTION_PRICE}&ad=${AUCTION_AD_ID}"},` +
			`{"id":"b","impid":"1","price":"","nurl":"http://127.0.0.1:1/w"}]}]}`)
	})
	e := newEnv(t, auctionConfig(testDSP("lax", s.Endpoint())))
	out := e.wins(creativePNG, creativeJPEG)
	if len(out) != 1 || out[0].RequestID != "0" || out[0].ServeURL != "http://127.0.0.1:1/w?p=1.25&ad=99" {
		t.Fatalf("answer %+v, want slot 0 won", out)
	}
	win, err := e.st.GetAuction(context.Background(), out[0].ExtID)
	if err != nil || win.Seat != "7" || win.AdID != "99" || win.ADomain != "advertiser.example" || win.PriceMicros != 1_250_000 {
		t.Fatalf("stored %+v, %v", win, err)
	}
	res := e.obs.last(t)
	if len(res.Rejections) != 1 || res.Rejections[0].BidID != "b" || res.Rejections[0].Reason != ReasonBadPrice {
		t.Fatalf("rejections %+v, want bid b for its price", res.Rejections)
	}
}

// A 200 with an empty body is a no-bid also when gzip middleware labels it
// Content-Encoding: gzip; it is not a failure that trips the breaker.
func TestEmptyGzipLabelledAnswerIsANoBid(t *testing.T) {
	dsp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(dsp.Close)
	d := testDSP("gz", dsp.URL)
	d.Gzip = true
	e := newEnv(t, auctionConfig(d))
	out := e.wins(creativePNG)
	if r := e.obs.last(t).DSPs[0]; len(out) != 0 || r.Outcome != OutcomeNoBid || r.Reason != ReasonNoBid {
		t.Fatalf("answer %+v, dsp result %+v, want a no-bid", out, r)
	}
}

// On an https page the browser's XHR to an http serve_url is blocked as
// mixed content, so the slot would stay empty: such a bid loses to an
// https one, and alone it is rejected so the AdServer refills the slot.
// Loopback (a secure origin to browsers) and http pages keep http.
func TestHTTPNURLOnHTTPSPageIsRejected(t *testing.T) {
	s := sim(t, dspsim.Options{})
	nurl := "http://dsp.example/w"
	s.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"bid":[{"id":"x","impid":"0","price":1,"nurl":"` + nurl + `"}]}]}`)
	})
	e := newEnv(t, auctionConfig(testDSP("d", s.Endpoint())))
	for _, tc := range []struct {
		nurl, page string
		win        bool
	}{
		{"http://dsp.example/w", "https://news.example.org/a", false},
		{"https://dsp.example/w", "https://news.example.org/a", true},
		{"http://127.0.0.1:1/w", "https://news.example.org/a", true},
		{"http://dsp.example/w", "http://news.example.org/a", true},
	} {
		nurl = tc.nurl
		req := e.request(creativePNG)
		req.Site.Page = tc.page
		res := e.run(req)
		if (len(res.Wins) == 1) != tc.win {
			t.Errorf("nurl %s, page %s: wins %+v, want win %v", tc.nurl, tc.page, res.Wins, tc.win)
		}
		if !tc.win && (len(res.Rejections) != 1 || res.Rejections[0].Reason != ReasonNoNURL) {
			t.Errorf("nurl %s: rejections %+v", tc.nurl, res.Rejections)
		}
	}
}

// A DSP that announces an oversized answer is refused before any of it is
// read.
func TestAnnouncedOversizedAnswerIsNotRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(MaxDSPAnswer+1))
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for range (MaxDSPAnswer + 1) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	e := newEnv(t, auctionConfig(testDSP("big", srv.URL)))
	out := e.wins(creativePNG)
	if len(out) != 0 {
		t.Fatalf("answer %+v", out)
	}
	r := e.obs.last(t).DSPs[0]
	if r.Outcome != OutcomeError || r.Reason != ReasonInvalidResponse || !strings.Contains(r.Err, "larger than") {
		t.Fatalf("announced oversized answer: %+v", r)
	}
}

// A DSP answering errors keeps its keep-alive connection: the short error
// page is read, not left to kill the connection.
func TestErrorAnswersReuseTheConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, strings.Repeat("temporarily unavailable ", 40), http.StatusServiceUnavailable)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	e := newEnv(t, auctionConfig(testDSP("failing", srv.URL)))
	for range 3 {
		e.wins(creativePNG)
		if r := e.obs.last(t).DSPs[0]; r.Outcome != OutcomeError || r.Status != http.StatusServiceUnavailable {
			t.Fatalf("dsp result %+v, want an error with status 503", r)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("3 error answers used %d connections, want 1 (reused)", n)
	}
}

// A DSP that bids gross (dsps[].bid_adjustment) competes at its adjusted
// price, is stored and billed at it, and is told the gross floor.
func TestBidAdjustmentAppliesBeforeTheAuctionCompares(t *testing.T) {
	gross := sim(t, dspsim.Options{Price: "4.00"})
	net := sim(t, dspsim.Options{Price: "2.50"})
	g := testDSP("gross", gross.Endpoint())
	g.BidAdjustment = "0.5" // 4.00 gross is 2.00 net: loses to 2.50
	cfg := auctionConfig(g, testDSP("net", net.Endpoint()))
	cfg.Auction.BidFloor = "1.00"
	e := newEnv(t, cfg)
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "net" || res.Wins[0].PriceMicros != 2_500_000 {
		t.Fatalf("wins %+v, want net at 2.50", res.Wins)
	}
	if f := gross.Requests()[0].Request.Imp[0].BidFloor; f != 2 {
		t.Fatalf("gross DSP was told floor %v, want 2 (1.00 net / 0.5)", f)
	}
	if f := net.Requests()[0].Request.Imp[0].BidFloor; f != 1 {
		t.Fatalf("net DSP was told floor %v, want 1", f)
	}
	net.SetPrice("1.50") // now the gross DSP's 2.00 net wins
	res = e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || res.Wins[0].DSP != "gross" || res.Wins[0].PriceMicros != 2_000_000 {
		t.Fatalf("wins %+v, want gross at 2.00 net", res.Wins)
	}
	win, err := e.st.GetAuction(context.Background(), res.Wins[0].ExtID)
	if err != nil || win.PriceMicros != 2_000_000 || win.BidAdjustmentPPM != 500_000 || win.BidPrice != "4.00" {
		t.Fatalf("stored %+v, %v: want price 2000000 micro-USD, adjustment 500000 ppm, the DSP's own price text", win, err)
	}
}
