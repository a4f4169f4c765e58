package public

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const token = "AAAAAAAAAAAAAAAAAAAAAA" // 22 base64url characters

// serve starts a public listener on a free loopback port with one public
// win (token) whose creative is body.
func serve(t *testing.T, body []byte, nurl string, now ...func() time.Time) (*Server, *store.Store, string, *atomic.Int32) {
	t.Helper()
	st := testdb.New(t)
	sum := sha256.Sum256(body)
	err := st.InsertAuctions(context.Background(), []store.Auction{{ExtID: "w1", AuctionID: "auc", RequestID: "0", CreativeID: "c",
		DSP: "alpha", BidID: "b1", PriceMicros: 1_500_000, BidPrice: "1.5", BidCurrency: "USD", NURL: nurl,
		Delivery: "public", ServeToken: token, CreativeSHA256: sum[:],
		Creative: &store.Creative{SHA256: sum[:], ContentType: "image/png", Bytes: body}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", st, time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	woken := &atomic.Int32{}
	s.Notify = func() { woken.Add(1) }
	if len(now) > 0 {
		s.Now = now[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, st, "http://" + s.Addr(), woken
}

func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestServesTheCreativeWithCORSAndEnqueuesTheNURLOnce(t *testing.T) {
	body := []byte("\x89PNG\r\n\x1a\n the creative")
	_, st, base, woken := serve(t, body, "http://127.0.0.1:1/win?p=${AUCTION_PRICE}&b=${AUCTION_BID_ID}")

	// HEAD is not a serve: no notice.
	resp, b := do(t, http.MethodHead, base+"/c/"+token, nil, nil)
	if resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("HEAD: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	if ns, _ := st.NoticesOf(context.Background(), "w1"); len(ns) != 0 {
		t.Fatalf("HEAD enqueued %+v", ns)
	}

	// The page's fetch: an Origin, no credentials.
	resp, b = do(t, http.MethodGet, base+"/c/"+token, nil, map[string]string{"Origin": "https://pub.example"})
	h := resp.Header
	if resp.StatusCode != 200 || string(b) != string(body) {
		t.Fatalf("GET: %d %q", resp.StatusCode, b)
	}
	for k, want := range map[string]string{"Access-Control-Allow-Origin": "*", "Content-Type": "image/png",
		"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	ns, _ := st.NoticesOf(context.Background(), "w1")
	if len(ns) != 1 || ns[0].Kind != "nurl" || ns[0].URL != "http://127.0.0.1:1/win?p=1.5&b=b1" || ns[0].Status != "pending" {
		t.Fatalf("notices after the serve: %+v", ns)
	}
	if woken.Load() != 1 {
		t.Fatalf("outbox woken %d times", woken.Load())
	}

	// Again (a reload, another tab): the same bytes, no second notice; a
	// conditional request gets 304.
	resp, _ = do(t, http.MethodGet, base+"/c/"+token, nil, nil)
	etag := resp.Header.Get("ETag")
	resp2, _ := do(t, http.MethodGet, base+"/c/"+token, nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 200 || etag == "" || resp2.StatusCode != http.StatusNotModified {
		t.Fatalf("repeat: %d etag %q, conditional %d", resp.StatusCode, etag, resp2.StatusCode)
	}
	if ns, _ := st.NoticesOf(context.Background(), "w1"); len(ns) != 1 {
		t.Fatalf("repeated serves enqueued %d notices", len(ns))
	}
}

// Only /c/{token}: nothing of the AdServer-facing API, nothing guessed.
func TestEverythingElseIsRefused(t *testing.T) {
	_, _, base, _ := serve(t, []byte("png"), "")
	for _, tc := range []struct {
		method, path string
		body         io.Reader
		status       int
	}{
		{"GET", "/c/BBBBBBBBBBBBBBBBBBBBBB", nil, 404}, // a token no win has
		{"GET", "/c/short", nil, 404},
		{"GET", "/c/", nil, 404},
		{"GET", "/", nil, 404},
		{"POST", "/bid", strings.NewReader("{}"), 413},
		{"GET", "/bid", nil, 404},
		{"GET", "/inventory", nil, 404},
		{"GET", "/metrics", nil, 404},
		{"POST", "/c/" + token, nil, 405},
		{"GET", "/c/" + token, strings.NewReader("x"), 413},
	} {
		resp, _ := do(t, tc.method, base+tc.path, tc.body, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: %d (CORS %q), want %d", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tc.status)
		}
	}
}

// A win older than creatives.public_ttl is no longer served.
func TestExpiredTokenIsNotFound(t *testing.T) {
	_, _, base, _ := serve(t, []byte("png"), "", func() time.Time { return time.Now().Add(2 * time.Hour) })
	if resp, _ := do(t, "GET", base+"/c/"+token, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("expired: %d, want 404", resp.StatusCode)
	}
}
