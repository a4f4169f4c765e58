package creative

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/macros"
)

// Config bounds resolution. Zero fields take the defaults; the names in
// brackets are the proposed config keys.
type Config struct {
	// MaxBytes is the largest creative (image or media file) accepted
	// [creatives.inline_max_bytes for inline delivery]. Default 1 MiB.
	MaxBytes int64
	// CacheEntries caps the URLs remembered [creatives.cache_entries].
	// Default 1000.
	CacheEntries int
	// CacheBytes caps the bytes of the distinct cached creatives
	// [creatives.cache_bytes]. Default 64 MiB.
	CacheBytes int64
	// MaxWrappers is how many VAST wrappers are followed before the inline
	// ad [creatives.vast_max_wrappers]. Default 3.
	MaxWrappers int
	// FetchTimeout bounds one fetch, including one that goes on in the
	// background after its auction gave up [creatives.fetch_timeout].
	// Default 10 s.
	FetchTimeout time.Duration
	// BackgroundFetches caps the fetches left running after their auction
	// gave up [creatives.background_fetches]. Default 16.
	BackgroundFetches int
	// FailureTTL is how long a failed fetch (too large, 404...) is
	// remembered, so it is not repeated every auction
	// [creatives.failure_ttl]. Default 1 min.
	FailureTTL time.Duration
	// Now is the clock (failure expiry). Default time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultMaxBytes          = 1 << 20
	DefaultCacheEntries      = 1000
	DefaultCacheBytes        = 64 << 20
	DefaultMaxWrappers       = 3
	DefaultFetchTimeout      = 10 * time.Second
	DefaultBackgroundFetches = 16
	DefaultFailureTTL        = time.Minute
)

func (c Config) withDefaults() Config {
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.CacheEntries <= 0 {
		c.CacheEntries = DefaultCacheEntries
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	if c.MaxWrappers <= 0 {
		c.MaxWrappers = DefaultMaxWrappers
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.BackgroundFetches <= 0 {
		c.BackgroundFetches = DefaultBackgroundFetches
	}
	if c.FailureTTL <= 0 {
		c.FailureTTL = DefaultFailureTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Resolver turns winning bids into creative bytes. It is safe for
// concurrent use; Close it to stop its background fetches.
type Resolver struct {
	cfg   Config
	f     Fetcher
	cache *cache

	mu         sync.Mutex
	flights    map[string]*flight
	background int
	closed     bool
	wg         sync.WaitGroup

	fetches, wrapperFetches, hits, joined atomic.Int64
}

// Stats are the resolver's counters (for metrics and the demo summary).
type Stats struct {
	Fetches      int64 // creative fetches started (images, media files, nurl bodies)
	Wrappers     int64 // VAST documents fetched behind wrappers
	CacheHits    int64 // resolutions answered from the cache
	Joined       int64 // resolutions that waited for another's fetch of the same URL
	Background   int   // fetches running after their auction gave up
	CacheEntries int   // URLs cached
	CacheAssets  int   // distinct creatives cached
	CacheBytes   int64 // their bytes
}

// New returns a resolver fetching through f.
func New(f Fetcher, cfg Config) *Resolver {
	cfg = cfg.withDefaults()
	return &Resolver{cfg: cfg, f: f, cache: newCache(cfg.CacheEntries, cfg.CacheBytes), flights: map[string]*flight{}}
}

// Stats reads the counters.
func (r *Resolver) Stats() Stats {
	s := Stats{Fetches: r.fetches.Load(), Wrappers: r.wrapperFetches.Load(), CacheHits: r.hits.Load(), Joined: r.joined.Load()}
	r.mu.Lock()
	s.Background = r.background
	r.mu.Unlock()
	s.CacheEntries, s.CacheAssets, s.CacheBytes = r.cache.stats()
	return s
}

// Close cancels the fetches still running and waits for them to end. Later
// resolutions fail.
func (r *Resolver) Close() {
	r.mu.Lock()
	r.closed = true
	for _, f := range r.flights {
		f.cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Markup resolves a bid's adm for slot: macros are substituted first (every
// form: ${AUCTION_PRICE}, {AUCTION_PRICE}, URL-encoded), then the markup is
// classified and parsed — image markup or VAST, anything else is
// unrenderable_markup — and the creative fetched (or taken from the cache)
// and checked against the slot. It returns by ctx's deadline: a first fetch
// still running then is creative_timeout (and may finish in the background,
// see flight.go).
func (r *Resolver) Markup(ctx context.Context, slot Slot, adm string, v macros.Values) (*Creative, error) {
	adm = macros.ExpandAll(adm, v)
	switch Classify(adm) {
	case KindNone:
		return nil, unrenderable("no markup")
	case KindNative:
		return nil, unrenderable("native (JSON) markup")
	case KindVAST:
		return r.vast(ctx, slot, adm, v)
	}
	return r.image(ctx, slot, adm, v)
}

func (r *Resolver) image(ctx context.Context, slot Slot, adm string, v macros.Values) (*Creative, error) {
	m, err := ParseImageMarkup(adm)
	if err != nil {
		return nil, err
	}
	if slot.Type != "image" {
		return nil, refuse(ReasonMismatch, "image markup for a %s slot", slot.Type)
	}
	// Entity-encoded macros (&#36;{AUCTION_PRICE}) appear only once the
	// attributes are decoded, hence the second expansion.
	src := macros.ExpandAll(m.ImageURL, v)
	a, cached, cors, err := r.asset(ctx, src, acceptImage)
	if err != nil {
		return nil, err
	}
	if err := checkImage(a, slot); err != nil {
		return nil, err
	}
	c := fromAsset(PathMarkupImage, a, cached, src)
	c.CORS = cors
	c.W, c.H = a.w, a.h
	c.ClickURL = macros.ExpandAll(m.ClickURL, v)
	c.ImpressionURLs = expandAll(m.Pixels, v)
	return c, nil
}

// NURL resolves the creative from the body of a bid's nurl, already
// expanded (the Adshares OpenRTB profile: the nurl answers the creative).
// Fetching a nurl is the DSP's win notice, so it is never cached by URL or
// shared between bids, and it is cancelled with ctx rather than left running:
// call it for the winning bid only.
func (r *Resolver) NURL(ctx context.Context, slot Slot, nurl string) (*Creative, error) {
	u, ok := absURL(nurl)
	if !ok {
		return nil, refuse(ReasonFetchFailed, "nurl %q is not an absolute http(s) URL", clip(nurl))
	}
	accept := acceptImage
	if slot.Type == "video" {
		accept = acceptVideo
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FetchTimeout)
	defer cancel()
	r.fetches.Add(1)
	b, _, err := fetch(ctx, r.f, u, accept, r.cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	a := r.cache.intern(newAsset(b))
	switch slot.Type {
	case "image":
		if err := checkImage(a, slot); err != nil {
			return nil, err
		}
		c := fromAsset(PathNURL, a, false, u)
		c.W, c.H = a.w, a.h
		return c, nil
	case "video":
		if err := checkVideo(a, slot); err != nil {
			return nil, err
		}
		c := fromAsset(PathNURL, a, false, u)
		c.W, c.H = slot.W, slot.H // a bare file says nothing cheaper to read about its size
		return c, nil
	}
	return nil, refuse(ReasonMismatch, "slot type %q", slot.Type)
}

// checkImage compares decoded image facts with the slot: the page shows the
// bytes at their own size, so the type and the size must be the slot's.
func checkImage(a *asset, slot Slot) error {
	switch {
	case a.mime == "" || a.w == 0:
		if a.mime != "" {
			return refuse(ReasonMismatch, "a %s file for an image slot", a.mime)
		}
		return refuse(ReasonMismatch, "not a PNG, JPEG, GIF or WebP image")
	case a.mime != slot.Mime:
		return refuse(ReasonMismatch, "the image is %s, the slot %s", a.mime, slot.Mime)
	case a.w != slot.W || a.h != slot.H:
		e := refuse(ReasonMismatch, "the image is %dx%d, the slot %dx%d", a.w, a.h, slot.W, slot.H)
		e.WrongSize = true
		return e
	}
	return nil
}

// checkVideo compares the sniffed video type with the slot's.
func checkVideo(a *asset, slot Slot) error {
	if a.mime != MimeMP4 && a.mime != MimeWebM {
		return refuse(ReasonMismatch, "not an mp4 or webm file")
	}
	if a.mime != slot.Mime {
		return refuse(ReasonMismatch, "the file is %s, the slot %s", a.mime, slot.Mime)
	}
	return nil
}

func fromAsset(p Path, a *asset, cached bool, src string) *Creative {
	return &Creative{Path: p, Bytes: a.bytes, ContentType: a.mime, SHA1: a.sha1, SourceURL: src, Cached: cached}
}

func expandAll(in []string, v macros.Values) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = macros.ExpandAll(s, v)
	}
	return out
}
