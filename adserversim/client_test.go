package adserversim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

// Spec §5 test vectors.
const (
	vecHeader  = `ADS account="0001-00000005-CBCA", nonce="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", created="2023-03-17T16:04:33+00:00", signature="10730df52388dbacfa5800ac96e68e502a8d52271bcc3f7cc94a48e88d50bd230bcb1bccd6a55a1c3266b271f42f7693f1dc929310d950b55f9aa84fe53fc00e"`
	vecPathSig = "d5055296c1c5f97a1e23fd3cae30ff28ffd8920436adfae9a437df638bef96d3dc0defb33dfc546a84126d58fc2390f41858162b840836e5107ac5d0817f9c06"
	adsrvAddr  = "0001-00000005-CBCA"
)

var vecTime = time.Date(2023, 3, 17, 16, 4, 33, 0, time.UTC)

func vecSeed() []byte { return bytes.Repeat([]byte{0x11}, 32) }

// counting yields 0x00, 0x01, ... so the first nonce is the spec's.
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// fakeBridge is a small stand-in for the bridge's AdServer-facing endpoints,
// recording every request URI it gets.
type fakeBridge struct {
	*httptest.Server
	mux *http.ServeMux

	mu   sync.Mutex
	uris []string
	hdrs []http.Header
}

func newFakeBridge(t *testing.T) *fakeBridge {
	f := &fakeBridge{mux: http.NewServeMux()}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.uris = append(f.uris, r.RequestURI)
		f.hdrs = append(f.hdrs, r.Header.Clone())
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBridge) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.uris...)
}

func (f *fakeBridge) lastHeader() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hdrs[len(f.hdrs)-1]
}

func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// infoBody is the spec example with the fake's own address.
func infoBody(base string) string {
	b, _ := os.ReadFile("testdata/info.json")
	return strings.ReplaceAll(string(b), "http://127.0.0.1:8015", base)
}

func inventoryBody(base string) string {
	b, _ := os.ReadFile("testdata/inventory.json")
	return strings.ReplaceAll(string(b), "http://127.0.0.1:8015", base)
}

func newClient(f *fakeBridge) *Client {
	return &Client{
		BaseURL: f.URL, BridgeAddr: bridgeAddr, AdServerAddr: adsrvAddr, Seed: vecSeed(),
		HTTP: f.Client(), Now: func() time.Time { return vecTime }, Rand: &counting{},
	}
}

// registered returns a client that registered with f and imported the
// spec example inventory.
func registered(t *testing.T, f *fakeBridge) *Client {
	t.Helper()
	f.mux.Handle("GET /info.json", jsonAnswer(200, infoBody(f.URL)))
	f.mux.Handle("GET /inventory", jsonAnswer(200, inventoryBody(f.URL)))
	c := newClient(f)
	if _, err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportInventory(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRegisterAndImport(t *testing.T) {
	f := newFakeBridge(t)
	c := newClient(f)
	ctx := context.Background()
	if _, err := c.ImportInventory(ctx); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("import before registration: %v, want ErrNotRegistered", err)
	}

	// A bridge announcing another account is refused and stays unregistered.
	f.mux.Handle("GET /info.json", jsonAnswer(200, strings.Replace(infoBody(f.URL), bridgeAddr, "0001-00000005-CBCA", 1)))
	if _, err := c.Register(ctx); err == nil || !strings.Contains(err.Error(), "adsAddress") {
		t.Fatalf("Register with a foreign adsAddress: %v", err)
	}
	if _, ok := c.Registered(); ok {
		t.Fatal("registered despite a refused info.json")
	}
	// The first signed call carries the spec's header byte for byte.
	if got := f.lastHeader().Get("Authorization"); got != vecHeader {
		t.Fatalf("Authorization\n got %s\nwant %s", got, vecHeader)
	}
	h := f.lastHeader()
	if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-cache" {
		t.Errorf("info.json headers %v", h)
	}

	f = newFakeBridge(t)
	c = newClient(f)
	c.Now = time.Now
	f.mux.Handle("GET /info.json", jsonAnswer(200, infoBody(f.URL)))
	info, err := c.Register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ServerURL != f.URL || info.InventoryURL != f.URL+"/inventory" {
		t.Errorf("info %+v", info)
	}
	// Every signed header is fresh and verifies with the seed's public key.
	pub := ed25519.NewKeyFromSeed(vecSeed()).Public().(ed25519.PublicKey)
	nonces := ads.NewNonceCache(0, 0)
	if _, err := ads.VerifyAuthorization(pub, f.lastHeader().Get("Authorization"), time.Now(), 0, nonces); err != nil {
		t.Fatalf("Authorization does not verify: %v", err)
	}

	// Inventory: non-200 and invalid bodies fail and keep nothing.
	f.mux.Handle("GET /inventory", jsonAnswer(503, `[]`))
	if _, err := c.ImportInventory(ctx); err == nil {
		t.Fatal("503 inventory accepted")
	}
	if _, err := ads.VerifyAuthorization(pub, f.lastHeader().Get("Authorization"), time.Now(), 0, nonces); err != nil {
		t.Fatalf("inventory Authorization: %v (a replayed nonce?)", err)
	}

	f2 := newFakeBridge(t)
	c2 := registered(t, f2)
	cr := c2.Creatives()
	if len(cr) != 1 || cr[0].ID != "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b" || cr[0].ViewURL != f2.URL+"/view" || cr[0].CampaignID != "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50" {
		t.Fatalf("creatives %+v", cr)
	}
	if reqs := f2.requests(); len(reqs) != 2 || reqs[0] != "/info.json" || reqs[1] != "/inventory" {
		t.Errorf("requests %v", reqs)
	}
	// A bad import keeps the previous inventory, as the AdServer does.
	bad := strings.Replace(inventoryBody(f2.URL), `"checksum": ""`, `"checksum": "ab"`, 1)
	f2.mux = http.NewServeMux()
	f2.mux.Handle("GET /inventory", jsonAnswer(200, bad))
	if _, err := c2.ImportInventory(ctx); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("bad inventory: %v", err)
	}
	if len(c2.Creatives()) != 1 {
		t.Error("a failed import dropped the inventory")
	}
}

func TestBid(t *testing.T) {
	f := newFakeBridge(t)
	c := registered(t, f)
	ctx := context.Background()
	var got []byte
	var answer string
	var mu sync.Mutex
	f.mux.HandleFunc("POST /bid", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = b
		a := answer
		mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "" {
			http.Error(w, "headers", 400)
			return
		}
		io.WriteString(w, a)
	})
	imp := RandomImpression(rand.New(rand.NewPCG(1, 2)))
	cid := c.Creatives()[0].ID
	slots := []Slot{{Position: 2, CreativeID: cid}, {Position: 5, CreativeID: cid}}

	answer = fmt.Sprintf(`[{"request_id":"5","ext_id":"x-1","serve_url":"%s/ad/1.png","price":1}]`, f.URL)
	res, err := c.Bid(ctx, imp, slots)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := BidBody(imp, slots)
	if !bytes.Equal(got, want) || !bytes.Equal(res.Body, want) {
		t.Errorf("bridge got %s\nwant %s", got, want)
	}
	if len(res.Wins) != 1 || res.Wins[0].Slot.Position != 5 || res.Wins[0].ExtID != "x-1" || res.Wins[0].Creative.ID != cid {
		t.Errorf("wins %+v", res.Wins)
	}

	// One bad entry rejects everything.
	answer = fmt.Sprintf(`[{"request_id":"5","ext_id":"x-1","serve_url":"%s/ad/1.png"},{"request_id":"2","ext_id":7,"serve_url":"%s/ad/2.png"}]`, f.URL, f.URL)
	res, err = c.Bid(ctx, imp, slots)
	if err == nil || res == nil || len(res.Wins) != 0 || res.Status != 200 {
		t.Fatalf("invalid answer: %+v, %v", res, err)
	}

	if _, err := c.Bid(ctx, imp, []Slot{{Position: 0, CreativeID: "00000000000000000000000000000000"}}); err == nil {
		t.Error("bid for a creative never imported")
	}
}

func TestViewAndClick(t *testing.T) {
	f := newFakeBridge(t)
	c := registered(t, f)
	ctx := context.Background()
	var viewStatus, clickStatus int
	var viewBody, clickBody string
	f.mux.HandleFunc("GET /view", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(viewStatus)
		io.WriteString(w, viewBody)
	})
	f.mux.HandleFunc("GET /click", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(clickStatus)
		io.WriteString(w, clickBody)
	})
	f.mux.HandleFunc("GET /elsewhere", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	f.mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", 302) })

	r := rand.New(rand.NewPCG(3, 4))
	imp := RandomImpression(r)
	win := Win{Slot: Slot{Position: 0}, Creative: c.Creatives()[0], ExtID: "a7Kq3xY0-1", ServeURL: f.URL + "/ad.png"}
	ev := RandomEvent(r, imp)
	ev.CaseID = "8C4D43F6-D4EE-4CA8-9CB4-907AC0A2E500" // the AdServer normalises it

	// A click before any view never reaches the bridge.
	n := len(f.requests())
	if _, err := c.Click(ctx, win, ev); !errors.Is(err, ErrNoCase) {
		t.Fatalf("click without view: %v", err)
	}
	if len(f.requests()) != n {
		t.Fatal("the click without view reached the bridge")
	}

	viewStatus = 204
	res, err := c.View(ctx, win, ev)
	if err != nil || !res.Recorded || res.Status != 204 {
		t.Fatalf("view 204: %+v, %v", res, err)
	}
	wantURL, _ := EventURL(f.URL+"/view", win.ExtID, adsrvAddr, ev, false)
	if reqs := f.requests(); f.URL+reqs[len(reqs)-1] != wantURL || res.URL != wantURL {
		t.Errorf("view request %s\nwant %s", reqs[len(reqs)-1], wantURL)
	}
	if _, ok := c.Cases()["8c4d43f6d4ee4ca89cb4907ac0a2e500"]; !ok {
		t.Fatalf("case not recorded under its normalised id: %v", c.Cases())
	}

	clickStatus, clickBody = 200, `{"redirect_url":"https://advertiser.example/landing"}`
	res, err = c.Click(ctx, win, ev)
	if err != nil || res.RedirectURL != "https://advertiser.example/landing" {
		t.Fatalf("click: %+v, %v", res, err)
	}
	if q := f.requests(); !strings.Contains(q[len(q)-1], "&iid="+ev.ImpressionID+"&ctx=") {
		t.Errorf("click request %s lacks the second iid", q[len(q)-1])
	}

	tests := []struct {
		name         string
		status       int
		body         string
		wantErr      bool
		wantRecorded bool
		wantRedirect string
	}{
		{"redirect", 200, `{"redirect_url":"https://x.example/"}`, false, true, "https://x.example/"},
		{"200 without redirect", 200, `{}`, false, true, ""},
		{"200 not json", 200, `ok`, false, true, ""},
		{"empty redirect_url", 200, `{"redirect_url":""}`, true, false, ""},
		{"server error", 500, `oops`, true, true, ""},
	}
	for _, tt := range tests {
		viewStatus, viewBody = tt.status, tt.body
		ev := RandomEvent(r, imp)
		res, err := c.View(ctx, win, ev)
		_, recorded := c.Cases()[ev.CaseID]
		if (err != nil) != tt.wantErr || res.Recorded != tt.wantRecorded || recorded != tt.wantRecorded || res.RedirectURL != tt.wantRedirect {
			t.Errorf("%s: %+v, %v (recorded %v)", tt.name, res, err, recorded)
		}
	}

	// A 3xx is followed by Guzzle; the bridge must not answer that way.
	redir := win
	redir.Creative.ViewURL = f.URL + "/redirect"
	if _, err := c.View(ctx, redir, RandomEvent(r, imp)); err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("3xx view: %v", err)
	}

	// A refused connection is logged by the AdServer, and the case kept.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	gone := win
	gone.Creative.ViewURL = dead.URL + "/view"
	ev = RandomEvent(r, imp)
	if res, err := c.View(ctx, gone, ev); err == nil || !res.Recorded {
		t.Errorf("refused view: %+v, %v", res, err)
	}
}

func TestServe(t *testing.T) {
	f := newFakeBridge(t)
	c := newClient(f)
	f.mux.HandleFunc("GET /ok.png", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "" || r.Header.Get("Origin") == "" {
			http.Error(w, "not like a browser", 400)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG"))
	})
	f.mux.HandleFunc("GET /nocors.png", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	ctx := context.Background()
	res, err := c.Serve(ctx, Win{ServeURL: f.URL + "/ok.png"}, "https://news.example.org")
	if err != nil || res.Status != 200 || !res.CORS || res.Size != 4 || res.ContentType != "image/png" {
		t.Fatalf("serve: %+v, %v", res, err)
	}
	if _, err := c.Serve(ctx, Win{ServeURL: f.URL + "/missing.png"}, "https://news.example.org"); err == nil {
		t.Error("404 serve accepted")
	}
	if _, err := c.Serve(ctx, Win{ServeURL: f.URL + "/nocors.png"}, "https://news.example.org"); err != nil {
		t.Errorf("serve without CORS, not required: %v", err)
	}
	c.RequireCORS = true
	if _, err := c.Serve(ctx, Win{ServeURL: f.URL + "/nocors.png"}, "https://news.example.org"); err == nil {
		t.Error("serve without CORS accepted under RequireCORS")
	}
}

// detailsServer serves details for reports from a fixed list, honouring
// limit and offset unless ignoreOffset, and checks the path signature.
func detailsServer(t *testing.T, f *fakeBridge, details map[string][]Detail, ignoreOffset bool) {
	pub := ed25519.NewKeyFromSeed(vecSeed()).Public().(ed25519.PublicKey)
	f.mux.HandleFunc("GET /payment-details/{id}/{addr}/{date}/{sig}", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.RequestURI, "+00:00/") {
			http.Error(w, "date without a literal +", 400)
			return
		}
		id, addr, date := r.PathValue("id"), r.PathValue("addr"), r.PathValue("date")
		if err := ads.VerifyPaymentDetailsPath(pub, id, addr, date, r.PathValue("sig")); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		if _, err := ads.VerifyAuthorization(pub, r.Header.Get("Authorization"), vecTime, 0, nil); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if ignoreOffset {
			offset = 0
		}
		list := details[id]
		page := []map[string]any{}
		for i := offset; i < len(list) && i < offset+limit; i++ {
			page = append(page, map[string]any{"case_id": list[i].CaseID, "event_value": list[i].EventValue})
		}
		json.NewEncoder(w).Encode(page)
	})
}

func TestPaymentDetailsURL(t *testing.T) {
	f := newFakeBridge(t)
	c := registered(t, f)
	u, err := c.PaymentDetailsURL("1678953600", vecTime, 5000, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := f.URL + "/payment-details/1678953600/0001-00000005-CBCA/2023-03-17T16:04:33+00:00/" + vecPathSig + "?limit=5000&offset=0"
	if u != want {
		t.Errorf("details URL\n got %s\nwant %s", u, want)
	}
}

func TestSettle(t *testing.T) {
	f := newFakeBridge(t)
	c := registered(t, f)
	c.DetailsLimit = 2
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))

	// Five views by two publishers; the bridge lists them plus an unknown case.
	imp := RandomImpression(r)
	win := Win{Creative: c.Creatives()[0], ExtID: "e1"}
	f.mux.HandleFunc("GET /view", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	pubs := []string{RandomID(r), RandomID(r)}
	var cases []string
	for i := range 5 {
		ev := RandomEvent(r, imp)
		ev.PublisherID = pubs[i%2]
		if _, err := c.View(ctx, win, ev); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, ev.CaseID)
	}
	details := map[string][]Detail{
		"1000": {{cases[0], 30}, {cases[1], 30}, {RandomID(r), 500}, {cases[2], 30}, {cases[3], 30}},
		"2000": {{cases[4], 70}, {cases[4], 70}},
	}
	detailsServer(t, f, details, false)
	reports := `[{"id":"1000","created_at":"2023-03-17T16:00:00+00:00","status":"done","value":100},` +
		`{"id":"2000","created_at":"2023-03-17T17:00:00+00:00","status":"processing","value":null}]`
	var mu sync.Mutex
	f.mux.HandleFunc("GET /payment-reports", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, reports)
	})

	got, err := c.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 30 each for the four known cases, capped at value 100: the fourth gets 10.
	if len(got) != 1 || got[0].ReportID != "1000" || got[0].Credited != 100 || got[0].DetailsSum != 620 ||
		got[0].Unknown != 1 || got[0].Details != 5 || got[0].Pages != 3 {
		t.Fatalf("settlement %+v", got)
	}
	if p := got[0].PerPublisher; p[pubs[0]] != 60 || p[pubs[1]] != 40 {
		t.Errorf("per publisher %v, want 60 and 40", p)
	}
	if c.ReportState("1000") != StateDone || c.ReportState("2000") != StateRetry {
		t.Errorf("states %s %s", c.ReportState("1000"), c.ReportState("2000"))
	}

	// Report 1000 is never paid again; 2000 turns done with a value.
	mu.Lock()
	reports = `[{"id":"1000","created_at":"2023-03-17T16:00:00+00:00","status":"done","value":999},` +
		`{"id":"2000","created_at":"2023-03-17T17:00:00+00:00","status":"done","value":140}]`
	mu.Unlock()
	got, err = c.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two entries fill a page of two, so an empty page ends the paging.
	if len(got) != 1 || got[0].ReportID != "2000" || got[0].Credited != 140 || got[0].Pages != 2 || got[0].PerPublisher[pubs[0]] != 140 {
		t.Fatalf("second run %+v", got)
	}
	if got, err := c.Settle(ctx); err != nil || len(got) != 0 {
		t.Fatalf("third run pays again: %+v, %v", got, err)
	}
}

func TestSettleFailures(t *testing.T) {
	ctx := context.Background()
	reports := `[{"id":"1000","created_at":"2023-03-17T16:00:00+00:00","status":"done","value":100}]`

	// A bridge that ignores offset would make the AdServer loop forever.
	f := newFakeBridge(t)
	c := registered(t, f)
	c.DetailsLimit = 1
	f.mux.Handle("GET /payment-reports", jsonAnswer(200, reports))
	detailsServer(t, f, map[string][]Detail{"1000": {{RandomID(rand.New(rand.NewPCG(1, 1))), 5}, {"00000000000000000000000000000001", 5}}}, true)
	if _, err := c.Settle(ctx); err == nil || !strings.Contains(err.Error(), "ignores offset") {
		t.Fatalf("offset ignored: %v", err)
	}
	if c.ReportState("1000") != StateNew {
		t.Errorf("state %s, want new (retried)", c.ReportState("1000"))
	}

	// A bad case_id rolls the run back; the report stays payable.
	f = newFakeBridge(t)
	c = registered(t, f)
	f.mux.Handle("GET /payment-reports", jsonAnswer(200, reports))
	f.mux.Handle("GET /payment-details/", jsonAnswer(200, `[{"case_id":"8C4D43F6D4EE4CA89CB4907AC0A2E500","event_value":5}]`))
	if _, err := c.Settle(ctx); err == nil || !strings.Contains(err.Error(), "case_id") {
		t.Fatalf("bad case_id: %v", err)
	}
	if c.ReportState("1000") != StateNew {
		t.Errorf("state %s, want new", c.ReportState("1000"))
	}

	// Reports that fail validation store nothing.
	f = newFakeBridge(t)
	c = registered(t, f)
	f.mux.Handle("GET /payment-reports", jsonAnswer(200, `[{"id":1000,"created_at":"2023-03-17T16:00:00+00:00","status":"done","value":100}]`))
	if _, err := c.Settle(ctx); err == nil || c.ReportState("1000") != "" {
		t.Fatalf("numeric id: %v, state %q", err, c.ReportState("1000"))
	}

	// A done report met while unregistered is invalid forever.
	f = newFakeBridge(t)
	c = newClient(f)
	f.mux.Handle("GET /payment-reports", jsonAnswer(200, reports))
	if got, err := c.Settle(ctx); err != nil || len(got) != 0 || c.ReportState("1000") != StateInvalid {
		t.Fatalf("unregistered: %+v, %v, state %s", got, err, c.ReportState("1000"))
	}
}
