package creative

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/macros"
)

var banner = Slot{Type: "image", Mime: MimePNG, W: 300, H: 250}

func imgAdm(src string) string {
	return `<a href="http://127.0.0.1/click"><img src="` + src + `"></a>`
}

func TestMismatchAndFailures(t *testing.T) {
	a := newAssets(t)
	r := New(a.Client(), Config{MaxBytes: 64 << 10})
	defer r.Close()
	video := Slot{Type: "video", Mime: MimeMP4, W: 64, H: 36}
	tests := []struct {
		name   string
		slot   Slot
		adm    string
		reason Reason
		detail string
	}{
		{"wrong size", banner, imgAdm(a.URL + "/img/300x251.png"), ReasonMismatch, "the image is 300x251, the slot 300x250"},
		{"wrong type", banner, imgAdm(a.URL + "/img/300x250.jpg"), ReasonMismatch, "the image is image/jpeg, the slot image/png"},
		{"webp for a png slot", banner, imgAdm(a.URL + "/images/vp8-300x250.webp"), ReasonMismatch, "image/webp"},
		{"not an image", banner, imgAdm(a.URL + "/text"), ReasonMismatch, "not a PNG"},
		{"a video as the image", banner, imgAdm(a.URL + "/media/tiny.mp4"), ReasonMismatch, "video/mp4 file"},
		{"image markup for a video slot", video, imgAdm(a.URL + "/img/64x36.png"), ReasonMismatch, "video slot"},
		{"oversized with Content-Length", banner, imgAdm(a.URL + "/big/70000"), ReasonTooLarge, "70000 bytes"},
		{"oversized chunked", banner, imgAdm(a.URL + "/big/70000?chunked=1"), ReasonTooLarge, "more than 65536 bytes"},
		{"404", banner, imgAdm(a.URL + "/missing.png"), ReasonFetchFailed, "answered 404"},
		{"204", banner, imgAdm(a.URL + "/nocontent"), ReasonFetchFailed, "answered 204"},
		{"empty 200", banner, imgAdm(a.URL + "/empty"), ReasonFetchFailed, "empty body"},
		{"unreachable", banner, imgAdm("http://127.0.0.1:1/i.png"), ReasonFetchFailed, "fetching"},
		{"webm file in an mp4 slot's VAST", video, inlineVAST("3.0", mediaFile("video/mp4", "progressive", "", 64, 36, 0, a.URL+"/media/tiny.webm")), ReasonMismatch, "the file is video/webm, the slot video/mp4"},
		{"VAST media not a video", video, inlineVAST("3.0", mediaFile("video/mp4", "progressive", "", 64, 36, 0, a.URL+"/img/64x36.png")), ReasonMismatch, "not an mp4 or webm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Markup(context.Background(), tt.slot, tt.adm, macros.Values{})
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error %v, want %s with %q", err, tt.reason, tt.detail)
			}
		})
	}
}

// The auction's deadline passes while the first fetch is held: the bid
// loses with creative_timeout, the fetch finishes in the background, and
// the next auction gets the creative from the cache without a fetch.
func TestTimeoutThenBackgroundFetchFillsTheCache(t *testing.T) {
	a := newAssets(t)
	g := a.hold("/img/300x250.png")
	r := New(a.Client(), Config{})
	defer r.Close()
	adm := imgAdm(a.URL + "/img/300x250.png")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := r.Markup(ctx, banner, adm, macros.Values{})
		errc <- err
	}()
	<-g.arrived // the fetch is on the wire
	cancel()    // the auction's deadline
	if err := <-errc; ReasonOf(err) != ReasonTimeout || !strings.Contains(err.Error(), "background") {
		t.Fatalf("error %v, want creative_timeout (continuing in the background)", err)
	}
	if s := r.Stats(); s.Background != 1 {
		t.Fatalf("background fetches %d, want 1", s.Background)
	}
	close(g.open)
	r.wg.Wait() // the background fetch has ended
	c, err := r.Markup(context.Background(), banner, adm, macros.Values{})
	if err != nil || !c.Cached || c.W != 300 {
		t.Fatalf("after the background fetch: %+v, %v", c, err)
	}
	if n := a.hitsOf("/img/300x250.png"); n != 1 {
		t.Fatalf("image fetched %d times, want 1", n)
	}
	if s := r.Stats(); s.Fetches != 1 || s.CacheHits != 1 || s.Background != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Only BackgroundFetches fetches may outlive their auction; the next one is
// cancelled (the DSP's server sees the request go away) and not cached.
func TestBackgroundFetchesAreBounded(t *testing.T) {
	a := newAssets(t)
	g1, g2 := a.hold("/img/300x250.png"), a.hold("/img/301x250.png")
	r := New(a.Client(), Config{BackgroundFetches: 1})
	defer r.Close()
	giveUp := func(path string, g *gate) error {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := r.Markup(ctx, banner, imgAdm(a.URL+path), macros.Values{})
			errc <- err
		}()
		<-g.arrived
		cancel()
		return <-errc
	}
	if err := giveUp("/img/300x250.png", g1); !strings.Contains(err.Error(), "continues in the background") {
		t.Fatalf("first: %v", err)
	}
	if err := giveUp("/img/301x250.png", g2); ReasonOf(err) != ReasonTimeout || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("second: %v", err)
	}
	<-g2.gone // the second request was cut off at the DSP's side
	close(g1.open)
	r.wg.Wait()
	if _, _, _, ok := r.cache.get(a.URL+"/img/300x250.png", time.Now()); !ok {
		t.Fatal("the background fetch was not cached")
	}
	if _, _, _, ok := r.cache.get(a.URL+"/img/301x250.png", time.Now()); ok {
		t.Fatal("the cancelled fetch was cached")
	}
}

// Resolutions of one URL while its fetch is in flight share that fetch.
func TestConcurrentResolutionsShareOneFetch(t *testing.T) {
	a := newAssets(t)
	g := a.hold("/img/300x250.png")
	r := New(a.Client(), Config{})
	defer r.Close()
	const n = 8
	var wg sync.WaitGroup
	results := make(chan *Creative, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Per-auction macros differ; the image URL does not.
			c, err := r.Markup(context.Background(), banner, imgAdm(a.URL+"/img/300x250.png")+
				`<img src="http://127.0.0.1/px?a=${AUCTION_ID}" width=1 height=1>`, macros.Values{AuctionID: string(rune('a' + i))})
			if err != nil {
				t.Error(err)
			}
			results <- c
		}()
	}
	<-g.arrived
	for r.waiters(a.URL+"/img/300x250.png") < n {
		time.Sleep(time.Millisecond) // waiting for the goroutines to join, not a timing assertion
	}
	close(g.open)
	wg.Wait()
	close(results)
	seen := map[string]bool{}
	var shared *byte
	for c := range results {
		if c == nil {
			continue
		}
		seen[c.ImpressionURLs[0]] = true
		if shared == nil {
			shared = &c.Bytes[0]
		}
		if &c.Bytes[0] != shared || c.W != 300 {
			t.Fatalf("resolutions got different bytes: %+v", c)
		}
	}
	if len(seen) != n {
		t.Fatalf("per-bid pixels got mixed up: %v", seen)
	}
	if h := a.hitsOf("/img/300x250.png"); h != 1 {
		t.Fatalf("%d fetches for %d concurrent resolutions, want 1", h, n)
	}
	if s := r.Stats(); s.Joined != n-1 || s.Fetches != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func (r *Resolver) waiters(url string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.flights[url]; f != nil {
		return f.waiters
	}
	return 0
}

func TestCacheHitsDedupAndEviction(t *testing.T) {
	a := newAssets(t)
	r := New(a.Client(), Config{CacheEntries: 3})
	defer r.Close()
	resolve := func(u string) *Creative {
		t.Helper()
		c, err := r.Markup(context.Background(), banner, imgAdm(u), macros.Values{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// The same bytes under per-auction URLs are stored once.
	c1 := resolve(a.URL + "/img/300x250.png?auction=1")
	c2 := resolve(a.URL + "/img/300x250.png?auction=2")
	if c1.Cached || c2.Cached || &c1.Bytes[0] != &c2.Bytes[0] {
		t.Fatal("identical bytes are not shared")
	}
	if s := r.Stats(); s.CacheEntries != 2 || s.CacheAssets != 1 || s.CacheBytes != int64(len(c1.Bytes)) {
		t.Fatalf("stats %+v", s)
	}
	if c := resolve(a.URL + "/img/300x250.png?auction=1"); !c.Cached {
		t.Fatal("a URL seen before was fetched again")
	}
	// A fourth URL evicts the least recently used (auction=2).
	resolve(a.URL + "/img/300x250.png?auction=3")
	resolve(a.URL + "/img/300x250.png?auction=4")
	if _, _, _, ok := r.cache.get(a.URL+"/img/300x250.png?auction=2", time.Now()); ok {
		t.Fatal("the least recently used entry was kept")
	}
	if _, _, _, ok := r.cache.get(a.URL+"/img/300x250.png?auction=1", time.Now()); !ok {
		t.Fatal("a recently used entry was evicted")
	}
	if h := a.hitsOf("/img/300x250.png"); h != 4 {
		t.Fatalf("%d fetches, want 4", h)
	}
}

func TestCacheByteCap(t *testing.T) {
	c := newCache(100, 1000)
	mk := func(n int, fill byte) *asset { return newAsset([]byte(strings.Repeat(string(fill), n))) }
	c.put("a", mk(400, 'a'), false)
	c.put("b", mk(400, 'b'), false)
	c.put("b2", mk(400, 'b'), false) // same bytes as b: no more bytes
	if e, n, b := c.stats(); e != 3 || n != 2 || b != 800 {
		t.Fatalf("entries %d assets %d bytes %d", e, n, b)
	}
	c.put("c", mk(400, 'c'), false) // 1200 > 1000: "a" goes
	if _, _, _, ok := c.get("a", time.Now()); ok {
		t.Fatal("byte cap not enforced")
	}
	if e, n, b := c.stats(); e != 3 || n != 2 || b != 800 {
		t.Fatalf("after eviction: entries %d assets %d bytes %d", e, n, b)
	}
	c.put("huge", mk(1001, 'h'), false) // larger than the cache: not stored, nothing flushed
	if e, _, _ := c.stats(); e != 3 {
		t.Fatalf("a huge asset flushed the cache: %d entries", e)
	}
}

// A failed fetch is remembered for FailureTTL on the injected clock, then
// tried again.
func TestFailuresAreRememberedForAWhile(t *testing.T) {
	a := newAssets(t)
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	r := New(a.Client(), Config{MaxBytes: 1000, FailureTTL: time.Minute, Now: clock.Now})
	defer r.Close()
	adm := imgAdm(a.URL + "/big/2000")
	for range 3 {
		if _, err := r.Markup(context.Background(), banner, adm, macros.Values{}); ReasonOf(err) != ReasonTooLarge {
			t.Fatal(err)
		}
	}
	if h := a.hitsOf("/big/2000"); h != 1 {
		t.Fatalf("%d fetches of a too-large creative within the TTL, want 1", h)
	}
	clock.Add(time.Minute)
	r.Markup(context.Background(), banner, adm, macros.Values{})
	if h := a.hitsOf("/big/2000"); h != 2 {
		t.Fatalf("%d fetches after the TTL, want 2", h)
	}
}

func TestNURLIsNeverSharedOrCached(t *testing.T) {
	a := newAssets(t)
	r := New(a.Client(), Config{})
	defer r.Close()
	slot := Slot{Type: "image", Mime: MimePNG, W: 300, H: 250}
	for range 2 {
		c, err := r.NURL(context.Background(), slot, a.URL+"/img/300x250.png?win=1")
		if err != nil || c.Path != PathNURL || c.Cached {
			t.Fatalf("%+v %v", c, err)
		}
	}
	if h := a.hitsOf("/img/300x250.png"); h != 2 {
		t.Fatalf("the nurl (a win notice) was fetched %d times for 2 wins", h)
	}
	v, err := r.NURL(context.Background(), Slot{Type: "video", Mime: MimeMP4, W: 640, H: 360}, a.URL+"/media/tiny.mp4")
	if err != nil || v.ContentType != MimeMP4 || v.W != 640 {
		t.Fatalf("video nurl: %+v %v", v, err)
	}
	if _, err := r.NURL(context.Background(), slot, "javascript:alert(1)"); ReasonOf(err) != ReasonFetchFailed {
		t.Fatalf("bad nurl: %v", err)
	}
}

func TestDataURIAndInlineCap(t *testing.T) {
	a := newAssets(t)
	r := New(a.Client(), Config{})
	defer r.Close()
	c, err := r.Markup(context.Background(), banner, imgAdm(a.URL+"/img/300x250.png"), macros.Values{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.InlineServeURL(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(u, "data:image/png;base64,")
	if !ok {
		t.Fatalf("serve_url %.40s...", u)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || string(b) != string(a.fileOrGenerated(t, c.SourceURL)) {
		t.Fatalf("the data: URI is not the image's bytes (%v)", err)
	}
	if _, err := c.InlineServeURL(len(c.Bytes) - 1); ReasonOf(err) != ReasonTooLarge {
		t.Fatalf("inline cap: %v", err)
	}
}

func TestCloseCancelsFetches(t *testing.T) {
	a := newAssets(t)
	g := a.hold("/img/300x250.png")
	r := New(a.Client(), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Markup(ctx, banner, imgAdm(a.URL+"/img/300x250.png"), macros.Values{})
		done <- err
	}()
	<-g.arrived
	cancel()
	<-done
	r.Close() // returns only once the background fetch has ended
	<-g.gone
	if _, err := r.Markup(context.Background(), banner, imgAdm(a.URL+"/img/300x250.png"), macros.Values{}); ReasonOf(err) != ReasonFetchFailed {
		t.Fatalf("after Close: %v", err)
	}
}
