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
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/adshares/dsp-bridge/internal/testjson"
)

// fixture is one JSON test case in the style of Prebid Server's adapter
// tests: an auction request, the exact OpenRTB request every DSP must
// receive, the DSPs' answers, and the exact wins (as /bid answers them) and
// stored rows. bridge/testdata pins how AdServer bodies become such requests.
//
// Markup fixtures also have a DSP asset server (assetServer): {{SERVER}}
// anywhere in the file is its URL, {{DATA path mime}} the data: URI of what
// it serves at path; "assets" adds documents (VAST behind a wrapper), and
// the hits it saw and the outbox rows of each win are pinned too.
type fixture struct {
	Description     string                     `json:"description"`
	BidFloor        string                     `json:"bidfloor"`
	DSPs            []fixtureDSP               `json:"dsps"`
	Request         Request                    `json:"request"`
	Assets          map[string]asset           `json:"assets"`
	ExpectedAnswer  json.RawMessage            `json:"expectedAnswer"`
	ExpectedWins    []fixtureWin               `json:"expectedWins"`
	ExpectedReject  map[string]string          `json:"expectedRejections"` // bid id → reason
	ExpectedHits    map[string]int             `json:"expectedAssetHits"`  // path → hits (only with assets)
	ExpectedNotices map[string][]fixtureNotice `json:"expectedNotices"`    // ext id → outbox rows
	// Config is applied over the test config, with the YAML key names
	// (supply_chain, privacy, blocking, traffic, auction.imp_exp, ...).
	Config map[string]any `json:"config"`
}

// fixtureNotice is an outbox row of a win; held means not due before the
// hold (a markup win's nurl, until /bid has answered).
type fixtureNotice struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	Held bool   `json:"held"`
}

type fixtureDSP struct {
	Name            string            `json:"name"`
	Dialect         string            `json:"dialect"`
	Currency        string            `json:"currency"`
	Seat            string            `json:"seat"`
	ClickURLField   string            `json:"click_url_field"`
	Config          map[string]any    `json:"config"` // more dsps[] keys, as in YAML
	Creative        string            `json:"creative"`
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
	RequestID   string   `json:"request_id"`
	DSP         string   `json:"dsp"`
	Seat        string   `json:"seat"`
	BidID       string   `json:"bid_id"`
	AdID        string   `json:"ad_id"`
	CreativeID  string   `json:"creative_id"`
	PriceMicros int64    `json:"price_micros"`
	BidCurrency string   `json:"bid_currency"`
	BidPrice    string   `json:"bid_price"`
	NURL        string   `json:"nurl"`
	BURL        string   `json:"burl"`
	ClickURL    string   `json:"click_url"`
	ADomain     string   `json:"adomain"`
	CrID        string   `json:"crid,omitempty"`
	CID         string   `json:"cid,omitempty"`
	Cat         []string `json:"cat,omitempty"`
	Attr        []int32  `json:"attr,omitempty"`
	W           int64    `json:"w,omitempty"`
	H           int64    `json:"h,omitempty"`
	MType       int64    `json:"mtype,omitempty"`
	Exp         int64    `json:"exp,omitempty"`
	FixedPrice  bool     `json:"fixed_price,omitempty"`
	// Delivery and CreativePath say how the creative reached the browser;
	// ImpressionURLs are fired with the burl.
	Delivery       string   `json:"delivery"`
	CreativePath   string   `json:"creative_path"`
	ImpressionURLs []string `json:"impression_urls"`
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
	assets := newAssetServer(t)
	raw = expandFixture(t, raw, assets)
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	for path, doc := range f.Assets {
		assets.docs[path] = doc
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
	decodeConfig(t, f.Config, cfg)
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
		d.Seat, d.ClickURLField, d.Creative = fd.Seat, fd.ClickURLField, fd.Creative
		decodeConfig(t, fd.Config, &d)
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
			NURL: a.NURL, BURL: a.BURL, ClickURL: a.ClickURL, ADomain: a.ADomain,
			CrID: a.CrID, CID: a.CID, Cat: nilIfEmpty(a.Cat), Attr: nilIfEmpty(a.Attr), W: a.W, H: a.H, MType: a.MType, Exp: a.Exp,
			FixedPrice: a.FixedPrice, Delivery: a.Delivery, CreativePath: a.CreativePath, ImpressionURLs: nilIfEmpty(a.ImpressionURLs)}
		if !reflect.DeepEqual(gotWin, want) {
			t.Errorf("stored win %d:\n got  %+v\n want %+v", i, gotWin, want)
		}
		checkNotices(t, e, answers[i].ExtID, f.ExpectedNotices[answers[i].ExtID])
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
	if f.ExpectedHits != nil {
		got := assets.allHits()
		for p, n := range got {
			if n == 0 {
				delete(got, p)
			}
		}
		if !reflect.DeepEqual(got, f.ExpectedHits) {
			t.Errorf("asset server hits %v, want %v", got, f.ExpectedHits)
		}
	}
}

// checkNotices compares a win's outbox rows with the fixture's.
func checkNotices(t *testing.T, e *env, extID string, want []fixtureNotice) {
	t.Helper()
	rows, err := e.st.NoticesOf(context.Background(), extID)
	if err != nil {
		t.Fatal(err)
	}
	got := []fixtureNotice{}
	for _, r := range rows {
		got = append(got, fixtureNotice{Kind: r.Kind, URL: r.URL, Held: r.NextAttempt.After(time.Now().Add(time.Second))})
	}
	if want == nil {
		want = []fixtureNotice{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notices of %s:\n got  %+v\n want %+v", extID, got, want)
	}
}

var dataRef = regexp.MustCompile(`\{\{DATA ([^ }]+) ([^ }]+)\}\}`)

// expandFixture fills in the asset server's URL and the data: URIs of its
// assets.
func expandFixture(t *testing.T, raw []byte, a *assetServer) []byte {
	raw = bytes.ReplaceAll(raw, []byte("{{SERVER}}"), []byte(a.URL))
	return dataRef.ReplaceAllFunc(raw, func(m []byte) []byte {
		sm := dataRef.FindSubmatch(m)
		return []byte(a.dataOf(t, string(sm[1]), string(sm[2])))
	})
}

// decodeConfig applies YAML-named keys (as JSON) over a config value, the
// way config.Load would read them from a file.
func decodeConfig(t *testing.T, keys map[string]any, into any) {
	t.Helper()
	if len(keys) == 0 {
		return
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: into, WeaklyTypedInput: true,
		DecodeHook: mapstructure.StringToTimeDurationHookFunc()})
	if err == nil {
		err = dec.Decode(keys)
	}
	if err != nil {
		t.Fatalf("fixture config: %v", err)
	}
}

func nilIfEmpty[T any](l []T) []T {
	if len(l) == 0 {
		return nil
	}
	return l
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}
