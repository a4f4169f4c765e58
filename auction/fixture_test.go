package auction

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/adshares/dsp-bridge/internal/testjson"
)

// fixture is one JSON test case in the style of Prebid Server's adapter
// tests: an auction request, the exact OpenRTB request every DSP must
// receive, the DSPs' answers, and the exact wins (as /bid answers them) and
// stored rows. bridge/testdata pins how AdServer bodies become such requests.
type fixture struct {
	Description    string            `json:"description"`
	BidFloor       string            `json:"bidfloor"`
	DSPs           []fixtureDSP      `json:"dsps"`
	Request        Request           `json:"request"`
	ExpectedAnswer json.RawMessage   `json:"expectedAnswer"`
	ExpectedWins   []fixtureWin      `json:"expectedWins"`
	ExpectedReject map[string]string `json:"expectedRejections"` // bid id → reason
}

type fixtureDSP struct {
	Name            string            `json:"name"`
	Dialect         string            `json:"dialect"`
	Currency        string            `json:"currency"`
	Seat            string            `json:"seat"`
	ClickURLField   string            `json:"click_url_field"`
	MaxBidsPerImp   int               `json:"max_bids_per_imp"`
	ExpectedRequest json.RawMessage   `json:"expectedRequest"`
	ExpectedHeaders map[string]string `json:"expectedHeaders"`
	Answer          struct {
		Status   int             `json:"status"`
		Body     json.RawMessage `json:"body"`
		BodyText string          `json:"bodyText"`
	} `json:"answer"`
}

type fixtureWin struct {
	RequestID   string `json:"request_id"`
	DSP         string `json:"dsp"`
	Seat        string `json:"seat"`
	BidID       string `json:"bid_id"`
	AdID        string `json:"ad_id"`
	CreativeID  string `json:"creative_id"`
	PriceMicros int64  `json:"price_micros"`
	BidCurrency string `json:"bid_currency"`
	BidPrice    string `json:"bid_price"`
	NURL        string `json:"nurl"`
	BURL        string `json:"burl"`
	ClickURL    string `json:"click_url"`
	ADomain     string `json:"adomain"`
}

func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 4 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runFixture(t, file) })
	}
}

func runFixture(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	type got struct {
		mu     sync.Mutex
		body   []byte
		header http.Header
	}
	received := make([]*got, len(f.DSPs))
	cfg := auctionConfig()
	if f.BidFloor != "" {
		cfg.Auction.BidFloor = f.BidFloor
	}
	for i, fd := range f.DSPs {
		g := &got{}
		received[i] = g
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			g.mu.Lock()
			g.body, g.header = b, r.Header.Clone()
			g.mu.Unlock()
			status := fd.Answer.Status
			if status == 0 {
				status = 200
			}
			w.WriteHeader(status)
			if fd.Answer.BodyText != "" {
				io.WriteString(w, fd.Answer.BodyText)
			} else {
				w.Write(fd.Answer.Body)
			}
		}))
		t.Cleanup(ts.Close)
		d := testDSP(fd.Name, ts.URL+"/openrtb")
		if fd.Dialect != "" {
			d.Dialect = fd.Dialect
		}
		if fd.Currency != "" {
			d.Currency = fd.Currency
		}
		d.Seat, d.ClickURLField = fd.Seat, fd.ClickURLField
		if fd.MaxBidsPerImp != 0 {
			d.MaxBidsPerImp = fd.MaxBidsPerImp
		}
		cfg.DSPs = append(cfg.DSPs, d)
	}
	e := newEnv(t, cfg)
	e.a.newAuctionID = func() string { return "auction-1" }
	n := 0
	e.a.newExtID = func() string { n++; return "ext-" + strconv.Itoa(n) }
	for i := range f.Request.Slots {
		s := &f.Request.Slots[i]
		if s.Creative, _ = e.catalog.Lookup(s.CreativeID); s.Creative == nil {
			t.Fatalf("slot %s: no creative %s", s.ID, s.CreativeID)
		}
	}

	res := e.run(&f.Request)
	type servedWin struct {
		RequestID string `json:"request_id"`
		ExtID     string `json:"ext_id"`
		ServeURL  string `json:"serve_url"`
	}
	answers := []servedWin{}
	for _, w := range res.Wins {
		answers = append(answers, servedWin{w.RequestID, w.ExtID, w.ServeURL})
	}
	answer, _ := json.Marshal(answers)
	testjson.Equal(t, "wins", answer, f.ExpectedAnswer)

	for i, fd := range f.DSPs {
		g := received[i]
		g.mu.Lock()
		body, header := g.body, g.header
		g.mu.Unlock()
		if isNull(fd.ExpectedRequest) {
			if body != nil {
				t.Errorf("dsp %s was called but should not be: %s", fd.Name, body)
			}
			continue
		}
		if body == nil {
			t.Errorf("dsp %s was not called", fd.Name)
			continue
		}
		testjson.Equal(t, "request to "+fd.Name, body, fd.ExpectedRequest)
		for k, v := range fd.ExpectedHeaders {
			if header.Get(k) != v {
				t.Errorf("dsp %s: header %s = %q, want %q", fd.Name, k, header.Get(k), v)
			}
		}
	}

	if len(answers) != len(f.ExpectedWins) {
		t.Fatalf("%d answers, %d expected wins", len(answers), len(f.ExpectedWins))
	}
	for i, want := range f.ExpectedWins {
		a, err := e.st.GetAuction(context.Background(), answers[i].ExtID)
		if err != nil {
			t.Fatalf("win %s not stored: %v", answers[i].ExtID, err)
		}
		gotWin := fixtureWin{RequestID: a.RequestID, DSP: a.DSP, Seat: a.Seat, BidID: a.BidID, AdID: a.AdID,
			CreativeID: a.CreativeID, PriceMicros: a.PriceMicros, BidCurrency: a.BidCurrency, BidPrice: a.BidPrice,
			NURL: a.NURL, BURL: a.BURL, ClickURL: a.ClickURL, ADomain: a.ADomain}
		if gotWin != want {
			t.Errorf("stored win %d:\n got  %+v\n want %+v", i, gotWin, want)
		}
		if a.AuctionID != "auction-1" {
			t.Errorf("stored auction id %q", a.AuctionID)
		}
	}
	gotRej := map[string]string{}
	for _, r := range res.Rejections {
		gotRej[r.BidID] = r.Reason.String()
	}
	if len(f.ExpectedReject) > 0 || len(gotRej) > 0 {
		if !reflect.DeepEqual(gotRej, f.ExpectedReject) {
			t.Errorf("rejections = %v, want %v", gotRej, f.ExpectedReject)
		}
	}
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}
