// Package public is the bridge's public listener (public_listen): it serves
// the creatives of creatives.delivery public at /c/{token} to the visitors'
// browsers, and nothing else — none of the AdServer-facing API is reachable
// from it. The first fetch of a creative is the serve event: it enqueues the
// win's nurl ("nurl on serve", the Adshares OpenRTB profile). A background
// cleaner deletes the bytes of creatives no win can still serve.
package public

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/macros"
	"github.com/adshares/dsp-bridge/store"
)

// tokenRe is a serve token: auction.NewExtID's 22 base64url characters.
var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// Server is the public listener.
type Server struct {
	Store *store.Store
	Log   *slog.Logger
	// TTL is how long after its win a creative is served
	// (creatives.public_ttl); older tokens are answered 404.
	TTL time.Duration
	// Now is the clock (token expiry, notice times, the cleaner).
	Now func() time.Time
	// Notify wakes the outbox worker after a win notice was enqueued.
	Notify func()
	// Observe, if set, counts every request by result: served, not_found,
	// unavailable (database trouble: 503).
	Observe func(result string)
	// CleanEvery is how often unused creatives are deleted.
	CleanEvery time.Duration

	srv      *http.Server
	listener net.Listener

	mu       sync.Mutex
	enqueued map[string]bool // ext_ids whose nurl this process enqueued: repeated fetches skip the insert
}

// Listen binds addr, so that a busy port fails at start, not later.
func Listen(addr string, st *store.Store, ttl time.Duration, log *slog.Logger) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Store: st, Log: log, TTL: ttl, Now: time.Now, CleanEvery: time.Hour, listener: l, enqueued: map[string]bool{}}
	s.srv = &http.Server{
		Handler: s.Handler(),
		// Its own bounds, not the AdServer-facing server's: visitors on
		// slow links fetch creatives of up to creatives.max_bytes.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the address the listener is bound to.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Close releases the listener of a server that never ran.
func (s *Server) Close() { s.listener.Close() }

// Handler is the public listener's only route, GET (and HEAD) /c/{token};
// everything else is a 404, or a 405 for other methods on /c/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/c/{token}", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.creative(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w)
	})
	return noBody(mux)
}

// noBody refuses requests with a body: nothing here reads one.
func noBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.ContentLength != 0 && r.ContentLength != -1 || len(r.TransferEncoding) > 0 {
			http.Error(w, "request bodies are not accepted", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 0)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) notFound(w http.ResponseWriter) {
	s.count("not_found")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "not found", http.StatusNotFound)
}

func (s *Server) count(result string) {
	if s.Observe != nil {
		s.Observe(result)
	}
}

// creative answers one creative with CORS * (the page fetches it with XHR
// from its own origin, BROWSER.md), its sniffed Content-Type and cache
// headers for an immutable file; a GET is the serve event of its win.
func (s *Server) creative(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !tokenRe.MatchString(token) {
		s.notFound(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	now := s.Now()
	c, err := s.Store.CreativeByToken(ctx, token, now.Add(-s.TTL))
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w)
		return
	}
	if err != nil {
		s.unavailable(w, token, err)
		return
	}
	if r.Method == http.MethodGet {
		if err := s.served(ctx, c, now); err != nil {
			// Never show an ad whose win notice cannot be recorded: the page
			// backfills the slot, and nothing is billed.
			s.unavailable(w, token, err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", c.ContentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+hex.EncodeToString(c.SHA256)+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	s.count("served")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.Bytes))
}

func (s *Server) unavailable(w http.ResponseWriter, token string, err error) {
	s.count("unavailable")
	s.Log.Warn("public creative not served", "token", token, "error", err)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "1")
	http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
}

// served records the serve event of c's win: its nurl enqueued once, with
// its macros expanded, before the creative is answered (so a crash after
// the answer cannot lose it).
func (s *Server) served(ctx context.Context, c *store.ServedCreative, now time.Time) error {
	a := c.Win
	if a.NURL == "" {
		return nil
	}
	s.mu.Lock()
	done := s.enqueued[a.ExtID]
	s.mu.Unlock()
	if done {
		return nil
	}
	u := macros.Expand(a.NURL, macros.Values{AuctionID: a.AuctionID, BidID: a.BidID, ImpID: a.RequestID,
		SeatID: a.Seat, AdID: a.AdID, Price: a.BidPrice, Currency: a.BidCurrency})
	added, err := s.Store.EnqueueWinNotice(ctx, a.ExtID, a.DSP, u, now, a.CreatedAt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.enqueued) >= 65536 {
		clear(s.enqueued) // forgetting costs one no-op insert per win, nothing else
	}
	s.enqueued[a.ExtID] = true
	s.mu.Unlock()
	if added {
		s.Log.InfoContext(ctx, "creative served; win notice enqueued", "ext_id", a.ExtID, "dsp", a.DSP)
		if s.Notify != nil {
			s.Notify()
		}
	}
	return nil
}

// Run serves until ctx ends, cleaning unused creatives meanwhile, then
// lets requests in flight finish (for up to 10 s).
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.listener) }()
	tick := time.NewTicker(s.CleanEvery)
	defer tick.Stop()
	s.clean(ctx)
	for {
		select {
		case err := <-errc:
			return err
		case <-tick.C:
			s.clean(ctx)
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.srv.Shutdown(sctx); err != nil {
				s.srv.Close()
			}
			return nil
		}
	}
}

// clean deletes creatives no servable win uses. A win's creative is
// stored (its last use moved) at most once per auction.StoredRefresh, so a
// creative of a win younger than TTL was used at most TTL + one refresh
// ago; the margin of two refreshes keeps every such creative.
func (s *Server) clean(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := s.Store.DeleteUnusedCreatives(cctx, s.Now().Add(-s.TTL-2*auction.StoredRefresh))
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("unused creatives not deleted", "error", err)
		}
		return
	}
	if n > 0 {
		s.Log.Info("unused creatives deleted", "count", n)
	}
}
