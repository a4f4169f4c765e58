package auction

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/dspsim"
)

// floodAnswer is an answer of just under MaxDSPAnswer bytes: as many bids
// as fit, all on impid, with the id the auction sends.
func floodAnswer(id, impid string) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString(`{"id":"` + id + `","seatbid":[{"seat":"flood","bid":[`)
	n := 0
	for {
		bid := `{"id":"` + strconv.Itoa(n) + `","impid":"` + impid + `","price":1.5,"nurl":"http://x/"}`
		if b.Len()+len(bid)+8 > MaxDSPAnswer {
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(bid)
		n++
	}
	b.WriteString(`]}]}`)
	return b.Bytes(), n
}

// floodDSP answers every bid request at once with a floodAnswer (the
// answer's id is not checked, so one body serves every auction).
func floodDSP(t testing.TB, impid string) (*httptest.Server, int) {
	ans, n := floodAnswer("flood", impid)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(ans)
	}))
	t.Cleanup(srv.Close)
	return srv, n
}

// The case: one DSP answers 1 MiB of ~20,000 bids on an impid that
// was not offered, next to a good DSP answering in 5 ms, with tmax 150 ms.
// The flood is refused whole before any bid is judged, in its own
// goroutine, with one log line; the good DSP's win is stored and returned
// in every auction. (Wall time is BenchmarkFloodNextToGoodDSP's business.)
func TestFloodOfBidsNextToAGoodDSP(t *testing.T) {
	flood, n := floodDSP(t, "9")
	if n < 18_000 {
		t.Fatalf("flood answer has only %d bids", n)
	}
	good := sim(t, dspsim.Options{Price: "1.00", Latency: 5 * time.Millisecond})
	cfg := auctionConfig(testDSP("flood", flood.URL), testDSP("good", good.Endpoint()))
	cfg.Auction.TMax = 150 * time.Millisecond
	for i := range cfg.DSPs {
		cfg.DSPs[i].Timeout = 150 * time.Millisecond
	}
	logs := &captureLog{}
	e := newEnvLogged(t, cfg, nil, slog.New(logs))
	const auctions = 3
	for range auctions {
		res := e.run(e.request(creativePNG))
		if res.Outcome != AuctionWon || len(res.Wins) != 1 || res.Wins[0].DSP != "good" {
			t.Fatalf("outcome %s, wins %+v: want the good DSP's win", res.Outcome, res.Wins)
		}
		if _, err := e.st.GetAuction(context.Background(), res.Wins[0].ExtID); err != nil {
			t.Fatalf("the good DSP's win is not stored: %v", err)
		}
		var fr DSPResult
		for _, d := range res.DSPs {
			if d.DSP == "flood" {
				fr = d
			}
		}
		if fr.Outcome != OutcomeError || fr.Reason != ReasonInvalidResponse {
			t.Fatalf("flood DSP result %+v, want invalid_response", fr)
		}
		if len(res.Rejections) != 0 {
			t.Fatalf("%d rejections: an answer over the bound must be refused whole, not bid by bid", len(res.Rejections))
		}
		lines := logs.lines("auction_id", res.ID)
		if len(lines) != 1 || lines[0].Message != "dsp answer refused" || attr(lines[0], "max_bids") != "5" {
			t.Fatalf("auction %s logged %d lines (%v), want one 'dsp answer refused' with the count", res.ID, len(lines), messages(lines))
		}
	}
	if all := logs.lines("", ""); len(all) > auctions*2 {
		t.Fatalf("%d log lines for %d auctions: %v", len(all), auctions, messages(all))
	}
	if got := len(e.obs.rejected); got != 0 {
		t.Fatalf("%d rejections observed, want none", got)
	}
}

// Bids within the bound are judged one by one, but logged one line per
// reason with a count and at most two samples, and counted each.
func TestRejectionsAreLoggedOncePerReason(t *testing.T) {
	s := sim(t, dspsim.Options{})
	s.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"bid":[` +
			`{"id":"u1","impid":"9","price":1,"nurl":"http://127.0.0.1:1/w"},` +
			`{"id":"u2","impid":"9","price":1,"nurl":"http://127.0.0.1:1/w"},` +
			`{"id":"u3","impid":"8","price":1,"nurl":"http://127.0.0.1:1/w"},` +
			`{"id":"p1","impid":"0","price":0,"nurl":"http://127.0.0.1:1/w"},` +
			`{"id":"ok","impid":"0","price":2,"nurl":"http://127.0.0.1:1/w"}]}]}`)
	})
	logs := &captureLog{}
	e := newEnvLogged(t, auctionConfig(testDSP("d", s.Endpoint())), nil, slog.New(logs))
	res := e.run(e.request(creativePNG))
	if len(res.Wins) != 1 || len(res.Rejections) != 4 || len(e.obs.rejected) != 4 {
		t.Fatalf("wins %+v, %d rejections, %d observed; want 1 win and 4 rejections", res.Wins, len(res.Rejections), len(e.obs.rejected))
	}
	lines := logs.lines("auction_id", res.ID)
	if len(lines) != 2 {
		t.Fatalf("%d lines %v, want one per reason", len(lines), messages(lines))
	}
	want := map[string]string{"unknown_impid": "3", "bad_price": "1"}
	for _, l := range lines {
		if l.Message != "bids rejected" || want[attr(l, "reason")] != attr(l, "count") {
			t.Fatalf("line %s reason=%s count=%s, want counts %v", l.Message, attr(l, "reason"), attr(l, "count"), want)
		}
		if attr(l, "reason") == "unknown_impid" {
			if samples := attr(l, "samples"); !bytes.Contains([]byte(samples), []byte("u1")) || !bytes.Contains([]byte(samples), []byte("u2")) ||
				bytes.Contains([]byte(samples), []byte("u3")) {
				t.Fatalf("samples %s, want the first two bids only", samples)
			}
		}
	}
}

func messages(rs []slog.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Message
	}
	return out
}
