package creative

import (
	"container/list"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// asset is fetched bytes and what was read from them. Every URL whose bytes
// are the same shares one asset; it is never modified.
type asset struct {
	bytes []byte
	mime  string // sniffed; "" when neither a known image nor a known video
	w, h  int    // images only
	sha1  string
	sum   [sha256.Size]byte // the dedup key: SHA-1 is what the page checks, not a safe identity
}

func newAsset(b []byte) *asset {
	s1 := sha1.Sum(b)
	a := &asset{bytes: b, sha1: hex.EncodeToString(s1[:]), sum: sha256.Sum256(b)}
	a.mime, a.w, a.h = sniff(b)
	return a
}

// cache is a bounded LRU of resolved URLs. A URL maps to its asset (or, for a
// while, to the error its fetch ended with); assets are stored once by
// content hash, so the same bytes under many URLs (per-auction query strings)
// cost their size once. Both the number of URLs and the bytes of the distinct
// assets are capped; the least recently used URLs go first.
type cache struct {
	maxEntries int
	maxBytes   int64

	mu     sync.Mutex
	lru    *list.List // of *cacheEntry, most recent first
	byURL  map[string]*list.Element
	byHash map[[sha256.Size]byte]*blob
	bytes  int64
}

type cacheEntry struct {
	url     string
	a       *asset
	cors    bool      // every hop of url's fetch answered CORS *
	err     error     // a failed fetch, remembered until expires
	expires time.Time // failures only
}

type blob struct {
	a    *asset
	refs int
}

func newCache(maxEntries int, maxBytes int64) *cache {
	return &cache{maxEntries: maxEntries, maxBytes: maxBytes, lru: list.New(),
		byURL: map[string]*list.Element{}, byHash: map[[sha256.Size]byte]*blob{}}
}

// get is the cached asset (and its URL's CORS) or failure of url; ok is
// false on a miss.
func (c *cache) get(url string, now time.Time) (a *asset, cors bool, err error, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.byURL[url]
	if !found {
		return nil, false, nil, false
	}
	e := el.Value.(*cacheEntry)
	if e.err != nil && !now.Before(e.expires) {
		c.remove(el)
		return nil, false, nil, false
	}
	c.lru.MoveToFront(el)
	return e.a, e.cors, e.err, true
}

// put remembers url's asset and returns the asset to use: an identical one
// already stored, or a itself. An asset larger than the whole cache is not
// stored (it would only flush everything else).
func (c *cache) put(url string, a *asset, cors bool) *asset {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(a.bytes)) > c.maxBytes || c.maxEntries <= 0 {
		return a
	}
	if b, ok := c.byHash[a.sum]; ok {
		a = b.a
	}
	if el, ok := c.byURL[url]; ok {
		c.remove(el)
	}
	b, ok := c.byHash[a.sum]
	if !ok {
		b = &blob{a: a}
		c.byHash[a.sum] = b
		c.bytes += int64(len(a.bytes))
	}
	b.refs++
	c.byURL[url] = c.lru.PushFront(&cacheEntry{url: url, a: a, cors: cors})
	c.evict()
	return a
}

// putFailure remembers that fetching url failed, until expires, so a
// creative that is too large or missing is not fetched again every auction.
func (c *cache) putFailure(url string, err error, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byURL[url]; ok {
		c.remove(el)
	}
	c.byURL[url] = c.lru.PushFront(&cacheEntry{url: url, err: err, expires: expires})
	c.evict()
}

// intern is the stored asset with a's bytes, or a: bytes fetched without a
// cache entry (a nurl body) still share memory with identical cached ones.
func (c *cache) intern(a *asset) *asset {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.byHash[a.sum]; ok {
		return b.a
	}
	return a
}

func (c *cache) evict() {
	for c.lru.Len() > 0 && (c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes) {
		c.remove(c.lru.Back())
	}
}

func (c *cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.byURL, e.url)
	if e.a == nil {
		return
	}
	if b := c.byHash[e.a.sum]; b != nil {
		if b.refs--; b.refs == 0 {
			delete(c.byHash, e.a.sum)
			c.bytes -= int64(len(e.a.bytes))
		}
	}
}

// stats is the number of URLs, of distinct assets and their bytes.
func (c *cache) stats() (entries, assets int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), len(c.byHash), c.bytes
}
