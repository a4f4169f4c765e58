package browser

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Kind is an Adshares banner type, which decides how the page shows the
// fetched bytes.
type Kind string

// Banner types the test page can show.
const (
	Image Kind = "image" // <img src=blob:…>
	Video Kind = "video" // <video autoplay muted src=blob:…>
)

// Result is what the test page saw when it fetched and showed a creative.
type Result struct {
	// Origin is the page's origin (what the request's Origin header said).
	Origin string `json:"origin"`
	// Status is the XMLHttpRequest status: 0 when the request failed, as it
	// does without CORS.
	Status int `json:"status"`
	// ResponseURL is the URL after redirects.
	ResponseURL string `json:"responseURL"`
	// BlobType is the blob's type (the response Content-Type); BlobSize its
	// size in bytes (-1 when there was no blob).
	BlobType string `json:"blobType"`
	BlobSize int64  `json:"blobSize"`
	// SHA1 is the lowercase hex SHA-1 of the bytes, as the page compares it
	// with a banner hash.
	SHA1 string `json:"sha1"`
	// Width and Height are the decoded image's natural size, or the video's.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Shown: the image decoded, or the video became playable (canplay with
	// readyState ≥ 3, HAVE_FUTURE_DATA).
	Shown bool `json:"shown"`
	// ReadyState is the video's readyState at canplay; Playing says
	// autoplay started it (the "playing" event, which the page waits for).
	ReadyState int  `json:"readyState"`
	Playing    bool `json:"playing"`
	// Events are the media events the video fired, in order.
	Events []string `json:"events"`
	// Error says why the creative was not shown ("" when Shown).
	Error string `json:"error"`
}

// String is the result for a test log, with a data: URL cut short.
func (r Result) String() string {
	u := r.ResponseURL
	if len(u) > 60 {
		u = u[:60] + "…"
	}
	s := fmt.Sprintf("status %d url %s blob %q %d bytes sha1 %s", r.Status, u, r.BlobType, r.BlobSize, r.SHA1)
	if r.Width != 0 || r.Height != 0 {
		s += fmt.Sprintf(" %dx%d", r.Width, r.Height)
	}
	s += fmt.Sprintf(" shown %v", r.Shown)
	if len(r.Events) > 0 {
		s += fmt.Sprintf(" readyState %d playing %v events %v", r.ReadyState, r.Playing, r.Events)
	}
	if r.Error != "" {
		s += " error: " + r.Error
	}
	return s
}

//go:embed adpage.html
var adPage []byte

// pageServer serves the test page on its own loopback origin.
type pageServer struct {
	srv    *http.Server
	origin string
}

func startPage() (*pageServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(adPage)
	})
	p := &pageServer{srv: &http.Server{Handler: mux}, origin: "http://" + ln.Addr().String()}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *pageServer) close() { p.srv.Close() }

// PageOrigin is the origin of the test page (http://127.0.0.1:port), for a
// server that answers CORS with the page's exact origin. It starts the page
// server if needed.
func (b *Browser) PageOrigin() (string, error) {
	b.pageOnce.Do(func() { b.page, b.pageErr = startPage() })
	if b.pageErr != nil {
		return "", b.pageErr
	}
	return b.page.origin, nil
}

// ShowAd loads the test page (on its own loopback origin) and has it fetch
// serveURL and show it as a banner of the given kind, the way the Adshares
// page does (shared/protocol/BROWSER.md). The error is for the harness
// failing; a creative that did not show is a Result with Shown false and
// an Error.
func (b *Browser) ShowAd(ctx context.Context, serveURL string, kind Kind) (Result, error) {
	origin, err := b.PageOrigin()
	if err != nil {
		return Result{}, fmt.Errorf("browser: test page: %w", err)
	}
	if err := b.Navigate(ctx, origin+"/"); err != nil {
		return Result{}, err
	}
	var res Result
	err = b.ExecuteAsync(ctx, &res, `
		const done = arguments[arguments.length - 1];
		showAd(arguments[0], arguments[1]).then(done, e => done({error: "page: " + e, blobSize: -1}));`,
		serveURL, string(kind))
	if err != nil {
		// Report how far the page got (a video that never started, say).
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var partial Result
		if b.Execute(rctx, &partial, "return window.adResult || null") == nil {
			return partial, fmt.Errorf("browser: page did not finish (it saw: %v): %w", partial, err)
		}
		return Result{}, err
	}
	if res.Origin == "" && res.Error == "" {
		return res, errors.New("browser: the test page answered nothing")
	}
	return res, nil
}
