package browser

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/dspsim"
)

// testPNG is a 300x250 PNG (the slot size of the tests).
func testPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 300, 250))
	for y := 0; y < 250; y++ {
		for x := 0; x < 300; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha1hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

func dataURI(mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// creativeServer is server B: the creative's origin, unlike the page's. It
// records the headers each request came with.
type creativeServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]http.Header // path -> request headers
}

// asset is one path of a creativeServer.
type asset struct {
	body        []byte
	contentType string // "-": no Content-Type header at all
	cors        string // Access-Control-Allow-Origin ("" none, "=page" the page's origin)
	status      int    // default 200
	location    string // redirect target
}

func newCreativeServer(t *testing.T, pageOrigin string, assets map[string]asset) *creativeServer {
	s := &creativeServer{seen: map[string]http.Header{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen[r.URL.Path] = r.Header.Clone()
		s.mu.Unlock()
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch a.cors {
		case "":
		case "=page":
			w.Header().Set("Access-Control-Allow-Origin", pageOrigin)
		default:
			w.Header().Set("Access-Control-Allow-Origin", a.cors)
		}
		if a.contentType == "-" {
			w.Header()["Content-Type"] = nil // no sniffing, no header
		} else if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		if a.location != "" {
			w.Header().Set("Location", a.location)
		}
		w.WriteHeader(cmp(a.status, http.StatusOK))
		w.Write(a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (s *creativeServer) headers(path string) (http.Header, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.seen[path]
	return h, ok
}

// testContext bounds a browser test so a hung page fails it instead of
// hanging the run; it is not a speed goal.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestAdPage proves the harness and the facts of BROWSER.md in a real
// Chromium: which serve_urls the page can fetch and show, and which not.
func TestAdPage(t *testing.T) {
	b := New(t)
	ctx := testContext(t)
	origin, err := b.PageOrigin()
	if err != nil {
		t.Fatal(err)
	}
	pngBytes := testPNG(t)
	vast := []byte(`<?xml version="1.0"?><VAST version="3.0"><Ad><InLine><Creatives/></InLine></Ad></VAST>`)

	// Server C is a second creative origin, for cross-origin redirects.
	c := newCreativeServer(t, origin, map[string]asset{
		"/star.png":   {body: pngBytes, contentType: "image/png", cors: "*"},
		"/page.png":   {body: pngBytes, contentType: "image/png", cors: "=page"},
		"/nocors.png": {body: pngBytes, contentType: "image/png"},
	})
	s := newCreativeServer(t, origin, map[string]asset{
		"/star.png":      {body: pngBytes, contentType: "image/png", cors: "*"},
		"/page.png":      {body: pngBytes, contentType: "image/png", cors: "=page"},
		"/nocors.png":    {body: pngBytes, contentType: "image/png"},
		"/textplain.png": {body: pngBytes, contentType: "text/plain", cors: "*"},
		"/untyped.png":   {body: pngBytes, contentType: "-", cors: "*"},
		"/empty.png":     {status: http.StatusNoContent, cors: "*"},
		"/missing.png":   {status: http.StatusNotFound, cors: "*", contentType: "text/plain"},
		"/sample.webm":   {body: dspsim.SampleWebM, contentType: "video/webm", cors: "*"},
		"/sample.mp4":    {body: dspsim.SampleMP4, contentType: "video/mp4", cors: "*"},
		"/vast.xml":      {body: vast, contentType: "application/xml", cors: "*"},
		"/to-star.png":   {status: http.StatusFound, cors: "*", location: c.URL + "/star.png"},
		"/to-nocors.png": {status: http.StatusFound, cors: "*", location: c.URL + "/nocors.png"},
		"/to-page.png":   {status: http.StatusFound, cors: "=page", location: c.URL + "/page.png"},
		"/to-data.png":   {status: http.StatusFound, cors: "*", location: dataURI("image/png", pngBytes)},
	})

	// An https origin, as a public_url is.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngBytes)
	}))
	t.Cleanup(tlsSrv.Close)

	type want struct {
		shown    bool
		status   int
		blobType string
		bytes    []byte // nil: no blob expected
	}
	cases := []struct {
		name string
		url  string
		kind Kind
		want want
	}{
		{"image CORS star", s.URL + "/star.png", Image, want{true, 200, "image/png", pngBytes}},
		{"image CORS exact origin", s.URL + "/page.png", Image, want{true, 200, "image/png", pngBytes}},
		{"image without CORS fails", s.URL + "/nocors.png", Image, want{false, 0, "", nil}},
		{"image from an https origin", tlsSrv.URL + "/c/abc", Image, want{true, 200, "image/png", pngBytes}},
		{"image data URI", dataURI("image/png", pngBytes), Image, want{true, 200, "image/png", pngBytes}},
		{"image whatever its Content-Type", s.URL + "/textplain.png", Image, want{true, 200, "text/plain", pngBytes}},
		{"no Content-Type is text/xml", s.URL + "/untyped.png", Image, want{true, 200, "text/xml", pngBytes}},
		{"204 is an empty blob, nothing shown", s.URL + "/empty.png", Image, want{false, 204, "text/xml", []byte{}}},
		{"404 fails", s.URL + "/missing.png", Image, want{false, 404, "", nil}},
		{"redirect, CORS star on every hop", s.URL + "/to-star.png", Image, want{true, 200, "image/png", pngBytes}},
		{"redirect, last hop without CORS fails", s.URL + "/to-nocors.png", Image, want{false, 0, "", nil}},
		{"redirect, exact origin fails (Origin becomes null)", s.URL + "/to-page.png", Image, want{false, 0, "", nil}},
		{"redirect to a data URI fails", s.URL + "/to-data.png", Image, want{false, 0, "", nil}},
		{"webm CORS star", s.URL + "/sample.webm", Video, want{true, 200, "video/webm", dspsim.SampleWebM}},
		{"webm data URI", dataURI("video/webm", dspsim.SampleWebM), Video, want{true, 200, "video/webm", dspsim.SampleWebM}},
		{"mp4 CORS star", s.URL + "/sample.mp4", Video, want{true, 200, "video/mp4", dspsim.SampleMP4}},
		{"mp4 data URI", dataURI("video/mp4", dspsim.SampleMP4), Video, want{true, 200, "video/mp4", dspsim.SampleMP4}},
		{"VAST as a video plays nothing", s.URL + "/vast.xml", Video, want{false, 200, "application/xml", vast}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.ShowAd(ctx, tc.url, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("page saw %v", got)
			if got.Origin != origin {
				t.Errorf("page origin %q, want %q", got.Origin, origin)
			}
			if got.Status != tc.want.status {
				t.Errorf("status %d, want %d", got.Status, tc.want.status)
			}
			if got.Shown != tc.want.shown {
				t.Errorf("shown %v (error %q), want %v", got.Shown, got.Error, tc.want.shown)
			}
			if tc.want.shown {
				if got.Width != 300 || got.Height != 250 {
					t.Errorf("decoded at %dx%d, want 300x250", got.Width, got.Height)
				}
				if tc.kind == Video && (got.ReadyState < 3 || !got.Playing) {
					t.Errorf("video readyState %d playing %v, want ≥ 3 and autoplay started", got.ReadyState, got.Playing)
				}
			} else if got.Error == "" {
				t.Error("not shown, but no error reported")
			}
			if tc.want.bytes == nil {
				if got.BlobSize != -1 {
					t.Errorf("blob of %d bytes, want none", got.BlobSize)
				}
				return
			}
			if got.BlobType != tc.want.blobType {
				t.Errorf("blob type %q, want %q", got.BlobType, tc.want.blobType)
			}
			if got.BlobSize != int64(len(tc.want.bytes)) || got.SHA1 != sha1hex(tc.want.bytes) {
				t.Errorf("blob %d bytes sha1 %s, want %d bytes sha1 %s",
					got.BlobSize, got.SHA1, len(tc.want.bytes), sha1hex(tc.want.bytes))
			}
		})
	}

	// The failures above were the browser's doing, not a server that never
	// saw the request: the request arrived, with the page's Origin and no
	// credentials.
	h, ok := s.headers("/nocors.png")
	if !ok {
		t.Fatal("the request without CORS never reached the server")
	}
	if h.Get("Origin") != origin || h.Get("Cookie") != "" || h.Get("Authorization") != "" {
		t.Errorf("request headers %v, want Origin %s and no credentials", h, origin)
	}
	// After a cross-origin redirect the Origin is "null".
	if h, ok := c.headers("/star.png"); !ok || h.Get("Origin") != "null" {
		t.Errorf("redirected request Origin %q (seen %v), want null", h.Get("Origin"), ok)
	}
}
