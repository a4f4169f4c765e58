package auction

import (
	"cmp"
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/creative"
	"github.com/adshares/dsp-bridge/outbound"
	"github.com/adshares/dsp-bridge/store"
)

// deliver sets how p's creative reaches the browser (creatives.delivery).
func (s *creativeStage) deliver(p *placement, cr *creative.Creative, secure bool) error {
	switch s.delivery {
	case config.DeliveryPublic:
		sum := sha256.Sum256(cr.Bytes)
		c := &store.Creative{SHA256: sum[:], ContentType: cr.ContentType, Bytes: cr.Bytes}
		if err := s.storable(c); err != nil {
			return err
		}
		p.delivery, p.token = config.DeliveryPublic, newServeToken()
		p.serveURL = s.publicURL + "/c/" + p.token
		p.stored, p.label = c, config.DeliveryPublic
		return nil
	case config.DeliveryDirect:
		// Only where the browser can fetch the DSP's own URL: CORS * on
		// every hop, and no http fetch from an https page.
		if cr.CORS && (!secure || browserFetchable(cr.SourceURL)) {
			p.delivery, p.serveURL, p.label = config.DeliveryDirect, cr.SourceURL, config.DeliveryDirect
			return nil
		}
		p.label = "direct_fallback"
	}
	uri, err := cr.InlineServeURL(s.inlineMax)
	if err != nil {
		return err
	}
	p.delivery, p.serveURL = config.DeliveryInline, uri
	if p.label == "" {
		p.label = config.DeliveryInline
	}
	return nil
}

// inTxCreativeMax is the largest creative stored inside its win's
// transaction, which must commit by the auction's deadline; a larger one
// is stored on its own first, and wins from then on.
const inTxCreativeMax = 256 << 10

// storable reports whether a public win may use c now: it is stored
// already (lately), or small enough to go into the win's transaction.
// Otherwise it is stored in the background and this bid loses with
// creative_timeout (pending processing): the next one wins.
func (s *creativeStage) storable(c *store.Creative) error {
	now := s.now()
	if len(c.Bytes) <= inTxCreativeMax || s.st == nil || !s.storedCreatives.needs(c.SHA256, now) {
		return nil
	}
	key := [32]byte(c.SHA256)
	s.mu.Lock()
	busy := s.storing[key]
	if !busy && !s.closed {
		s.storing[key] = true
		s.bg.Add(1)
		go s.store(c, key)
	}
	s.mu.Unlock()
	return &creative.Error{Reason: creative.ReasonTimeout, Detail: "storing this large creative for public delivery first; it can win once stored"}
}

func (s *creativeStage) store(c *store.Creative, key [32]byte) {
	defer s.bg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.st.StoreCreative(ctx, c)
	if err == nil {
		s.storedCreatives.confirm(c.SHA256, s.now())
	} else {
		s.log.Warn("public creative not stored; a later win tries again", "bytes", len(c.Bytes), "error", err)
	}
	s.mu.Lock()
	delete(s.storing, key)
	s.mu.Unlock()
}

// creativeStage is the auction's part in creatives from markup: the
// fetchers, delivery settings, held notices and loss notices, and counters.
type creativeStage struct {
	fetch           *fetchers
	delivery        string
	inlineMax       int
	publicURL       string
	hold            time.Duration // how long a markup win's nurl waits for the answer before it fires by itself
	now             func() time.Time
	release         *releaser // nil: held notices fire when their hold passes
	losses          *lossSender
	storedCreatives storedCreatives
	observer        func() Observer
	st              DeliveryStore // nil: large public creatives go into their win's transaction too
	log             *slog.Logger
	storing         map[[32]byte]bool // large creatives being stored (under mu)
	closed          bool
	bg              sync.WaitGroup

	mu                           sync.Mutex
	resolved, delivered, refused map[string]int64
	fromCache                    atomic.Int64
}

func newCreativeStage(cfg *config.Config, obs func() Observer, log *slog.Logger) *creativeStage {
	cr := creativesConfig(cfg)
	s := &creativeStage{
		fetch: newFetchers(cfg), delivery: cr.Delivery, inlineMax: int(cr.InlineMaxBytes),
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), now: time.Now, observer: obs,
		// By write_timeout after its start, /bid has written its answer or
		// failed to; tmax more is slack for the release itself.
		hold:     max(cfg.Server.WriteTimeout, 5*time.Second) + cfg.Auction.TMax,
		resolved: map[string]int64{}, delivered: map[string]int64{}, refused: map[string]int64{},
		storedCreatives: storedCreatives{seen: map[[32]byte]time.Time{}},
		storing:         map[[32]byte]bool{}, log: log,
	}
	timeout := cmp.Or(cfg.Outbox.Timeout, 5*time.Second)
	s.losses = newLossSender(func(dsp string) *outbound.Client { return s.fetch.get(dsp).client }, timeout, s.observeLoss, log)
	return s
}

func (s *creativeStage) observeLoss(dsp, result string) {
	if co, ok := s.observer().(CreativeObserver); ok {
		co.ObserveLossNotice(dsp, result)
	}
}

func (s *creativeStage) count(m *map[string]int64, key string) {
	s.mu.Lock()
	(*m)[key]++
	s.mu.Unlock()
}

func (s *creativeStage) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.bg.Wait()
	s.losses.close()
	s.release.close()
	s.fetch.close()
}

// CreativeObserver may be implemented by an Observer that also wants to
// count how creatives were delivered and loss notices fired.
type CreativeObserver interface {
	// ObserveCreative is called for every win: its delivery (nurl, inline,
	// public, direct, or direct_fallback for direct delivered inline).
	ObserveCreative(dsp, delivery string)
	// ObserveLossNotice is called for every lurl: sent, failed, blocked or
	// dropped (the queue was full).
	ObserveLossNotice(dsp, result string)
}

// CreativeStats are the counters of creatives from markup (the demo's
// summary and the metrics read them).
type CreativeStats struct {
	Resolved  map[string]int64 // markup creatives resolved, by path (markup_image, vast)
	FromCache int64            // of those, answered from the cache
	Delivered map[string]int64 // wins by delivery (nurl, inline, public, direct, direct_fallback)
	Refused   map[string]int64 // bids refused at resolution, by reason
	Cache     creative.Stats   // the resolvers' caches and fetches
}

// CreativeStats reads the counters.
func (a *Auctioneer) CreativeStats() CreativeStats {
	s := a.cr
	s.mu.Lock()
	out := CreativeStats{Resolved: maps(s.resolved), Delivered: maps(s.delivered), Refused: maps(s.refused), FromCache: s.fromCache.Load()}
	s.mu.Unlock()
	out.Cache = s.fetch.stats()
	return out
}

func maps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// SetStore gives the auction the store in which it releases (or cancels)
// the held win notices of markup wins once /bid has answered, and stores
// large public creatives ahead of their first win; and the outbox worker's
// wake-up. Without it held notices fire when their hold passes. Call it
// before the first auction.
func (a *Auctioneer) SetStore(st DeliveryStore, notify func()) {
	a.cr.release = newReleaser(st, notify, a.log)
	a.cr.st = st
	if b, ok := a.saver.(*Batcher); ok {
		b.rel.Store(a.cr.release) // releases share the wins' commits
	}
}

// storedCreatives remembers which creatives a committed win stored lately,
// so that their bytes are not sent to the database with every win: a
// creative is stored again (and its last use moved) at most once per
// refresh. The bytes are kept while some win of the last public_ttl uses
// them, and the cleaner waits a refresh longer than that (public).
type storedCreatives struct {
	mu   sync.Mutex
	seen map[[32]byte]time.Time
}

// StoredRefresh is how long a stored creative is not stored again.
const StoredRefresh = time.Hour

const maxStoredSeen = 8192

func (s *storedCreatives) needs(sum []byte, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.seen[[32]byte(sum)]
	return !ok || now.Sub(t) >= StoredRefresh
}

func (s *storedCreatives) confirm(sum []byte, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) >= maxStoredSeen {
		clear(s.seen) // forgetting costs one more store per creative, nothing else
	}
	s.seen[[32]byte(sum)] = now
}

// fill puts a placement's delivery into its win row: the columns that say
// how it was delivered, the creative to store for public delivery (unless a
// recent win stored it), and the held win notice.
func (s *creativeStage) fill(row *store.Auction, p *placement) {
	row.Delivery, row.CreativePath, row.ImpressionURLs = p.delivery, string(p.path), p.impressions
	if p.delivery == "nurl" {
		return
	}
	if p.stored != nil {
		row.ServeToken, row.CreativeSHA256 = p.token, p.stored.SHA256
		if s.storedCreatives.needs(p.stored.SHA256, s.now()) {
			row.Creative = p.stored
		}
	}
	if p.winNotice != "" && p.delivery != config.DeliveryPublic {
		// Public: enqueued when the browser first fetches the creative.
		row.WinNotice, row.WinNoticeDue = p.winNotice, s.now().Add(s.hold)
	}
}

// notStored is called when saving the wins failed: the save may still have
// committed (its deadline passed while the commit was under way), so their
// held win notices are cancelled; the AdServer is told no bid, and the DSP
// must not hear of a win either.
func (s *creativeStage) notStored(rows []store.Auction) {
	s.release.done(heldNotices(rows), false)
}

// heldNotices are the ext ids of rows that carry a held win notice.
func heldNotices(rows []store.Auction) []string {
	var held []string
	for _, row := range rows {
		if row.WinNotice != "" {
			held = append(held, row.ExtID)
		}
	}
	return held
}

// stored is called once the wins are committed: it counts their delivery,
// remembers the creatives now stored, and returns what releases the held
// win notices after the answer (nil when there are none).
func (s *creativeStage) stored(rows []store.Auction, placed []*placement) func(bool) {
	now := s.now()
	for i, row := range rows {
		p := placed[i]
		s.count(&s.delivered, p.label)
		if co, ok := s.observer().(CreativeObserver); ok {
			co.ObserveCreative(row.DSP, p.label)
		}
		if row.Creative != nil {
			s.storedCreatives.confirm(row.Creative.SHA256, now)
		}
	}
	held := heldNotices(rows)
	if len(held) == 0 {
		return nil
	}
	return func(written bool) { s.release.done(held, written) }
}
