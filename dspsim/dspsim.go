// Package dspsim is a DSP simulator: a real OpenRTB HTTP server on loopback
// with configurable prices, latency and failure modes, which records every
// BidRequest it receives and serves its own win (nurl) and billing (burl)
// notice endpoints, and — for bids with markup — the creatives themselves
// (image, pixel, VAST documents, media file), counting every hit. Tests,
// the demo and `bridge dsp simulate` use it.
package dspsim

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// Mode is how the simulator answers bid requests.
type Mode string

// Answer modes.
const (
	ModeBid           Mode = "bid"           // one bid per imp at Options.Price
	ModeHang          Mode = "hang"          // never answer (until the caller gives up)
	Mode5xx           Mode = "5xx"           // 500 Internal Server Error
	ModeGarbage       Mode = "garbage"       // 200 with a body that is not JSON
	ModeHuge          Mode = "huge"          // 200 with a never-ending ~10 MB body
	ModeNoBid204      Mode = "nobid-204"     // 204 No Content
	ModeNoBidEmpty    Mode = "nobid-empty"   // 200 with an empty body
	ModeNoBidObject   Mode = "nobid-object"  // 200 {}
	ModeNoBidSeatbid  Mode = "nobid-seatbid" // 200 with an empty seatbid
	ModeNoBidNBR      Mode = "nobid-nbr"     // 200 with only nbr
	ModeNoBidEmptyCur Mode = "nobid-cur"     // 200 {"id":"","seatbid":[],"cur":"KRW"} (a 2.5 DSP's no-bid)
)

// Modes lists every mode (for flags and docs).
var Modes = []Mode{ModeBid, ModeHang, Mode5xx, ModeGarbage, ModeHuge, ModeNoBid204, ModeNoBidEmpty,
	ModeNoBidObject, ModeNoBidSeatbid, ModeNoBidNBR, ModeNoBidEmptyCur}

// Options configure a simulator. The zero value bids 1.00 USD CPM at once.
type Options struct {
	// Listen is the address to listen on (default 127.0.0.1:0).
	Listen string
	// PublicURL is the base of the nurl/burl in bids (default http://<listen address>).
	PublicURL string
	// BillingURL, if set, is the base of the burl instead: the burl is called
	// by the bridge, the nurl by a browser, and in containers they may need
	// different addresses.
	BillingURL string
	// Price is the CPM bid, a decimal in Currency (default "1.00").
	Price string
	// Currency of bids (default USD); CurAsArray sends "cur" as ["XXX"].
	Currency   string
	CurAsArray bool
	// Latency delays every answer.
	Latency time.Duration
	Mode    Mode
	// FailEvery makes every Nth bid request answer 500 (0: never).
	FailEvery int
	// FailFraction makes this share of bid requests answer 500, drawn from Seed.
	FailFraction float64
	Seed         int64
	// NoNURL and NoBURL leave those URLs out of bids.
	NoNURL, NoBURL bool
	// BareMacros writes {AUCTION_PRICE} (no $) in notice URLs, like some 2.5 DSPs.
	BareMacros bool
	// ADomain of bids (default ["advertiser.example"]).
	ADomain []string
	// Seat of the seatbid (default "sim").
	Seat string
	// Gzip answers gzip-compressed when the caller accepts it.
	Gzip bool
	// HugeBytes is the size of a ModeHuge answer (default 10 MB).
	HugeBytes int
	// BillFailures makes the first N /bill calls answer 503.
	BillFailures int
	// BillStatus, if set, is the status of every /bill call (e.g. 404).
	BillStatus int
	// Respond, if set, answers bid requests instead of Mode: status and body.
	Respond func(r *openrtb2.BidRequest) (status int, body []byte)
	// Creative is where bids carry their creative (default CreativeNURL).
	Creative CreativeKind
	// VASTWrapper makes CreativeVAST bids a wrapper of the simulator's
	// inline VAST document (served at /vast/inline.xml).
	VASTWrapper bool
	// VideoBytes is the VAST media file (default: an mp4 header only, which
	// passes signature checks but does not play); VideoMime its type
	// (default video/mp4).
	VideoBytes []byte
	VideoMime  string
	// ImageSize (WxH), if set, is the size of the markup's image instead of
	// the slot's: a creative of the wrong size.
	ImageSize string
	// MaxRecorded keeps only the first N bid requests in Requests (0: all),
	// so that a long load run does not hold every request in memory.
	// RequestCount still counts every one.
	MaxRecorded int
	// Fault, if set, picks a fault (faults.go) for every request to a
	// surface; "" answers normally. RandomFaults makes one.
	Fault func(Surface) Fault
	// RedirectTo is the base URL FaultRedirect sends the caller to and
	// FaultURL's bids name.
	RedirectTo string
	// CreativeQuery adds the notice query (with the auction's macros) to the
	// image URL of image markup, so that every auction's creative is another
	// URL the bridge must fetch rather than one it has cached.
	CreativeQuery bool
}

// Received is one bid request as it arrived.
type Received struct {
	Header  http.Header
	Body    []byte // decompressed
	Request openrtb2.BidRequest
}

// Server is a running simulator.
type Server struct {
	srv      *http.Server
	listener net.Listener
	url      string
	closing  chan struct{}
	once     sync.Once

	mu       sync.Mutex
	opts     Options
	rnd      *rand.Rand
	received []Received
	calls    int
	wins     []url.Values
	bills    []url.Values
	billHits int
	hits     map[Hit][]url.Values
	pngs     map[[2]int][]byte
	faults   map[faultKey]int
	started  time.Time
}

var pixel = func() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	return b.Bytes()
}()

// New starts a simulator. It panics if it cannot listen, like httptest.
func New(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// Start starts a simulator and returns an error if it cannot listen.
func Start(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("dspsim: %w", err)
	}
	s := &Server{listener: l, closing: make(chan struct{}), url: "http://" + l.Addr().String(), rnd: rand.New(rand.NewSource(opts.Seed)),
		hits: map[Hit][]url.Values{}, pngs: map[[2]int][]byte{}, faults: map[faultKey]int{}, started: time.Now()}
	s.opts = withDefaults(opts, s.url)
	mux := http.NewServeMux()
	// The bridge calls these; the browser calls /click.
	mux.HandleFunc("GET /win", s.faulty(SurfaceNURL, s.win))
	mux.HandleFunc("GET /bill", s.bill) // faults inside: it counts them as bills
	mux.HandleFunc("GET /creative/{name}", s.faulty(SurfaceNURL, s.creativeImage))
	mux.HandleFunc("GET /pixel", s.faulty(SurfaceBURL, s.trackingPixel))
	mux.HandleFunc("GET /vast/inline.xml", s.faulty(SurfaceNURL, s.vastInline))
	mux.HandleFunc("GET /media/video", s.faulty(SurfaceNURL, s.media))
	mux.HandleFunc("GET /impression", s.faulty(SurfaceBURL, s.counted(HitImpression)))
	mux.HandleFunc("GET /event", s.faulty(SurfaceBURL, s.counted(HitEvent)))
	mux.HandleFunc("GET /click", s.click)
	mux.HandleFunc("POST /", s.auction)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(l)
	return s, nil
}

func withDefaults(o Options, url string) Options {
	if o.PublicURL == "" {
		o.PublicURL = url
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	if o.BillingURL == "" {
		o.BillingURL = o.PublicURL
	}
	o.BillingURL = strings.TrimRight(o.BillingURL, "/")
	if o.Price == "" {
		o.Price = "1.00"
	}
	if o.Currency == "" {
		o.Currency = "USD"
	}
	if o.Mode == "" {
		o.Mode = ModeBid
	}
	if o.ADomain == nil {
		o.ADomain = []string{"advertiser.example"}
	}
	if o.Seat == "" {
		o.Seat = "sim"
	}
	if o.HugeBytes == 0 {
		o.HugeBytes = 10 << 20
	}
	if o.Creative == "" {
		o.Creative = CreativeNURL
	}
	if o.VideoMime == "" {
		o.VideoMime = "video/mp4"
	}
	return o
}

// URL is the simulator's base URL.
func (s *Server) URL() string { return s.url }

// Endpoint is the bid endpoint to configure as the DSP's endpoint.
func (s *Server) Endpoint() string { return s.url + "/openrtb2/auction" }

// Close stops the server, releasing hanging answers first.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// SetMode changes how later bid requests are answered.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	s.opts.Mode = m
	s.mu.Unlock()
}

// SetPrice changes the CPM of later bids.
func (s *Server) SetPrice(p string) {
	s.mu.Lock()
	s.opts.Price = p
	s.mu.Unlock()
}

// SetRespond replaces the custom answer function (nil: use Mode).
func (s *Server) SetRespond(f func(r *openrtb2.BidRequest) (int, []byte)) {
	s.mu.Lock()
	s.opts.Respond = f
	s.mu.Unlock()
}

// RequestCount is the number of bid requests received.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Requests returns copies of every bid request received, in order.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", errors.New("unknown mode " + s + "; one of " + strings.Join(names, ", "))
}
