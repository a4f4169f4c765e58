package auction

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testcfg"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/inventory"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const (
	creativePNG  = testcfg.CreativePNG
	creativeJPEG = testcfg.CreativeJPEG
)

var (
	auctionConfig = testcfg.Config
	testDSP       = testcfg.DSP
	discard       = slog.New(slog.DiscardHandler)
)

// recorder is an Observer that keeps everything, for assertions.
type recorder struct {
	mu       sync.Mutex
	auctions []*AuctionResult
	dsps     []DSPResult
	rejected []Rejection
}

func (r *recorder) ObserveDSP(d DSPResult) { r.mu.Lock(); r.dsps = append(r.dsps, d); r.mu.Unlock() }
func (r *recorder) ObserveRejection(x Rejection) {
	r.mu.Lock()
	r.rejected = append(r.rejected, x)
	r.mu.Unlock()
}
func (r *recorder) ObserveAuction(a *AuctionResult) {
	r.mu.Lock()
	r.auctions = append(r.auctions, a)
	r.mu.Unlock()
}

// last is the result of the latest auction.
func (r *recorder) last(t testing.TB) *AuctionResult {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.auctions) == 0 {
		t.Fatal("no auction observed")
	}
	return r.auctions[len(r.auctions)-1]
}

// env is an auctioneer storing its wins in a real test database through
// the real batcher.
type env struct {
	t       testing.TB
	cfg     *config.Config
	st      *store.Store
	a       *Auctioneer
	obs     *recorder
	catalog *inventory.Catalog
}

func newEnv(t testing.TB, cfg *config.Config) *env {
	t.Helper()
	return newEnvWithSaver(t, cfg, nil)
}

// newEnvWithSaver uses saver instead of a batcher on a test database (nil:
// the real thing).
func newEnvWithSaver(t testing.TB, cfg *config.Config, saver Saver) *env {
	t.Helper()
	return newEnvLogged(t, cfg, saver, discard)
}

// newEnvLogged is newEnvWithSaver with the auctioneer logging to log.
func newEnvLogged(t testing.TB, cfg *config.Config, saver Saver, log *slog.Logger) *env {
	t.Helper()
	catalog, err := inventory.NewCatalog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, obs: &recorder{}, catalog: catalog}
	if saver == nil {
		e.st = testdb.New(t)
		b := NewBatcher(e.st, discard, BatcherOptions{Writers: 2, MaxBatch: 16, CommitDelay: cfg.Database.WinCommitDelay})
		t.Cleanup(b.Close)
		saver = b
	}
	a, err := NewAuctioneer(cfg, saver, e.obs, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	e.a = a
	return e
}

// request is an auction of one slot per creative id (slot ids "0", "1",
// ...) on an https page, the shape of a typical AdServer call.
func (e *env) request(creatives ...string) *Request {
	e.t.Helper()
	req := &Request{
		Site:   Site{Domain: "news.example.org", Page: "https://news.example.org/a"},
		Device: Device{IP: "203.0.113.7", UserAgent: "Mozilla/5.0"},
	}
	for i, id := range creatives {
		cr, ok := e.catalog.Lookup(id)
		if !ok {
			e.t.Fatalf("no creative %s", id)
		}
		req.Slots = append(req.Slots, Slot{ID: strconv.Itoa(i), Creative: cr, CreativeID: id})
	}
	return req
}

// run auctions req and returns its result (also seen by the observer).
func (e *env) run(req *Request) *AuctionResult {
	return e.a.Run(context.Background(), req)
}

// wins auctions one slot per creative id and returns the wins.
func (e *env) wins(creatives ...string) []Win {
	return e.run(e.request(creatives...)).Wins
}

func outcomeOf(res *AuctionResult, dsp string) Outcome {
	for _, d := range res.DSPs {
		if d.DSP == dsp {
			return d.Outcome
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }

// captureLog is a slog handler keeping every record, to count log lines.
type captureLog struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *captureLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureLog) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.records = append(c.records, r.Clone())
	c.mu.Unlock()
	return nil
}
func (c *captureLog) WithAttrs([]slog.Attr) slog.Handler { return c } // the auction logs without With
func (c *captureLog) WithGroup(string) slog.Handler      { return c }

// lines are the records with attribute key = value, or all with key "".
func (c *captureLog) lines(key, value string) []slog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []slog.Record
	for _, r := range c.records {
		if key == "" || attr(r, key) == value {
			out = append(out, r)
		}
	}
	return out
}

// attr is a record's attribute as text ("" if absent).
func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
