package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/service"
	"github.com/adshares/dsp-bridge/store"
)

// Inventory creatives of the markup tests: the sample videos are 300x250.
const (
	pngCreative   = "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b" // image/png 300x250
	videoCreative = "a1b2c3d4e5f60718293a4b5c6d7e8f90" // video/mp4 300x250
)

// markupBridge is a real bridge (service.New, real PostgreSQL) in front of
// DSPs on loopback, driven by the AdServer simulator; with public delivery,
// an https server in front of public_listen plays the operator's proxy.
type markupBridge struct {
	cfg    *config.Config
	svc    *service.Service
	client *adserversim.Client
	tls    *httptest.Server // the https origin of public_url, or nil
	stop   func()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startMarkupBridge runs a bridge with creatives.delivery and the given
// DSPs (name → endpoint, in order); extra is more YAML.
func startMarkupBridge(t *testing.T, delivery string, dsps [][2]string, extra string) *markupBridge {
	t.Helper()
	ctx := context.Background()
	listen := freeAddr(t)
	b := &markupBridge{}
	var public string
	if delivery == config.DeliveryPublic {
		pub := freeAddr(t)
		// The operator's https front of public_listen.
		b.tls = httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: pub}))
		t.Cleanup(b.tls.Close)
		public = fmt.Sprintf("public_url: %q\npublic_listen: %q\n", b.tls.URL, pub)
	}
	var ds strings.Builder
	for _, d := range dsps {
		fmt.Fprintf(&ds, "  - {name: %s, endpoint: %q, timeout: 1500ms, allow_networks: [127.0.0.0/8], loss_notices: true}\n", d[0], d[1])
	}
	yaml := fmt.Sprintf(`listen: %q
database: {url: %q}
adshares: {address: "0001-00000003-AB0C"}
auction: {tmax: 2s}
money: {ads_usd: "0.05"}
metrics: {listen: ""}
outbox: {poll: 50ms, backoff_base: 100ms, backoff_max: 1s}
creatives: {delivery: %s}
%sinventory:
  campaigns:
    - id: "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50"
      creatives:
        - {id: %q, type: image, mime: image/png, size: 300x250}
        - {id: %q, type: video, mime: video/mp4, size: 300x250}
dsps:
%s%s`, listen, testdb.URL(t), delivery, public, pngCreative, videoCreative, ds.String(), extra)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	svc, err := service.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	b.cfg, b.svc = cfg, svc
	b.stop = func() {
		if cancel != nil {
			cancel()
			<-done
			cancel = nil
		}
	}
	t.Cleanup(b.stop)
	b.client = &adserversim.Client{BaseURL: cfg.BaseURL, BridgeAddr: "0001-00000003-AB0C", AdServerAddr: "0001-00000005-CBCA",
		Seed: make([]byte, 32), RequireCORS: true,
		HTTP: &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsConfigOf(b.tls)}}}
	if _, err := b.client.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.ImportInventory(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// bid is one /bid for one slot of creative, on an https page.
func (b *markupBridge) bid(t *testing.T, creative string, seed uint64) (*adserversim.BidResult, adserversim.Impression) {
	t.Helper()
	imp := adserversim.RandomImpression(rand.New(rand.NewPCG(seed, 1)))
	res, err := b.client.Bid(context.Background(), imp, []adserversim.Slot{{Position: 0, CreativeID: creative}})
	if err != nil {
		t.Fatalf("bid: %v", err)
	}
	return res, imp
}

// eventually polls cond: notices are delivered by the outbox in the
// background (the bound only keeps a broken bridge from hanging the test).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// A DSP answering with image markup only fills the slot: the browser's
// fetch of serve_url (as the Adshares page makes it) returns exactly the
// DSP's image; the nurl arrives once after /bid answered (inline) or at the
// first fetch (public); the pixel and the burl once after the view; the
// click goes to the markup's link.
func TestImageMarkupDSPFillsTheSlot(t *testing.T) {
	for _, delivery := range []string{config.DeliveryInline, config.DeliveryPublic} {
		t.Run(delivery, func(t *testing.T) {
			ctx := context.Background()
			dsp := dspsim.New(dspsim.Options{Creative: dspsim.CreativeImage, Price: "2.00", ADomain: []string{"shop.example"}})
			t.Cleanup(dsp.Close)
			b := startMarkupBridge(t, delivery, [][2]string{{"pixels", dsp.Endpoint()}}, "")
			image := fetch(t, dsp.URL()+"/creative/300x250.png") // the DSP's bytes, for comparison
			imagesBefore := dsp.Hits(dspsim.HitImage)

			res, imp := b.bid(t, pngCreative, 1)
			if len(res.Wins) != 1 {
				t.Fatalf("wins %+v: %s", res.Wins, res.Answer)
			}
			if tmax := b.cfg.Auction.TMax; res.Latency > tmax+time.Second {
				t.Errorf("/bid took %s (tmax %s)", res.Latency, tmax)
			}
			w := res.Wins[0]
			a, err := b.svc.Store.GetAuction(ctx, w.ExtID)
			if err != nil || a.DSP != "pixels" || a.Delivery != delivery {
				t.Fatalf("stored win %+v, %v", a, err)
			}
			switch delivery {
			case config.DeliveryInline:
				if !strings.HasPrefix(w.ServeURL, "data:image/png;base64,") {
					t.Fatalf("serve_url %.60s, want a data: URI", w.ServeURL)
				}
				eventually(t, "the nurl after /bid answered", func() bool { return dsp.Hits(dspsim.HitWin) == 1 })
			case config.DeliveryPublic:
				if !strings.HasPrefix(w.ServeURL, b.tls.URL+"/c/") {
					t.Fatalf("serve_url %s, want %s/c/…", w.ServeURL, b.tls.URL)
				}
				// Nothing is due before the serve ("nurl on serve").
				if ns, _ := b.svc.Store.NoticesOf(ctx, w.ExtID); len(ns) != 0 || dsp.Hits(dspsim.HitWin) != 0 {
					t.Fatalf("notices before the serve: %+v", ns)
				}
			}
			served, err := b.client.Serve(ctx, w, "https://"+imp.Site.Domain) // with an Origin, no credentials; CORS required
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
			if string(served.Body) != string(image) || !served.CORS {
				t.Fatalf("served %d bytes (%s, CORS %v), want the DSP's %d-byte image", len(served.Body), served.ContentType, served.CORS, len(image))
			}
			if delivery == config.DeliveryPublic {
				b.client.Serve(ctx, w, "https://"+imp.Site.Domain) // a second fetch fires nothing more
			}
			eventually(t, "the nurl", func() bool { return dsp.Hits(dspsim.HitWin) == 1 })
			if q := dsp.HitQueries(dspsim.HitWin)[0]; q.Get("price") != "2.00" || q.Get("auction") != a.AuctionID {
				t.Fatalf("nurl query %v", q)
			}
			// The image was fetched once, by the bridge (the browser got bytes).
			if n := dsp.Hits(dspsim.HitImage) - imagesBefore; n != 1 {
				t.Fatalf("the DSP's image was fetched %d times, want once", n)
			}
			if dsp.Hits(dspsim.HitPixel) != 0 || dsp.BillHits() != 0 {
				t.Fatal("pixel or burl fired before the view")
			}

			ev := adserversim.RandomEvent(rand.New(rand.NewPCG(1, 2)), imp)
			if vr, err := b.client.View(ctx, w, ev); err != nil || !vr.Recorded {
				t.Fatalf("view: %+v, %v", vr, err)
			}
			eventually(t, "the pixel and the burl", func() bool { return dsp.Hits(dspsim.HitPixel) == 1 && len(dsp.Bills()) == 1 })
			other := adserversim.RandomEvent(rand.New(rand.NewPCG(3, 4)), imp)
			b.client.View(ctx, w, other) // another case of the same win: not billed, nothing fired
			cr, err := b.client.Click(ctx, w, ev)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(cr.RedirectURL, dsp.URL()+"/click?price=2.00&") {
				t.Fatalf("click redirect_url %q, want the markup's link", cr.RedirectURL)
			}
			b.stop() // drains the outbox: anything still queued would go out now
			if dsp.Hits(dspsim.HitWin) != 1 || dsp.Hits(dspsim.HitPixel) != 1 || dsp.BillHits() != 1 {
				t.Fatalf("nurl %d, pixel %d, burl %d: want each once", dsp.Hits(dspsim.HitWin), dsp.Hits(dspsim.HitPixel), dsp.BillHits())
			}
		})
	}
}

// hangingAssets is a DSP's asset server whose /slow.png never answers (until
// the test ends) and whose /big.png is larger than inline delivery allows.
func hangingAssets(t *testing.T) *httptest.Server {
	t.Helper()
	gone := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow.png":
			select {
			case <-r.Context().Done():
			case <-gone:
			}
		case "/big.png":
			w.Header().Set("Content-Length", fmt.Sprint(2<<20))
			w.Write([]byte("\x89PNG\r\n\x1a\n"))
		}
	}))
	t.Cleanup(func() { close(gone); s.Close() })
	return s
}

// Creatives that cannot be fetched in time, are too large, have the wrong
// size or are unrenderable lose with their reason, another DSP's valid bid
// wins, /bid still answers by tmax, and the refusals are in the database
// for `payments dsps`.
func TestCreativeFailuresLoseAndAreCounted(t *testing.T) {
	assets := hangingAssets(t)
	img := func(src string) string { return `<a href="https://shop.example/"><img src="` + src + `"></a>` }
	var dsps [][2]string
	for i, d := range []struct{ name, adm string }{
		{"hanging", img(assets.URL + "/slow.png")},
		{"oversized", img(assets.URL + "/big.png")},
		{"wrongsize", ""}, // dspsim's own image markup, its image at 301x250
		{"scripted", `<script src="https://cdn.example/tag.js"></script>`},
	} {
		price := fmt.Sprint(9 - i) // tried in this order, the hanging one first
		s := dspsim.New(dspsim.Options{Creative: dspsim.CreativeImage, Price: price, ImageSize: "301x250"})
		if d.adm != "" {
			s.SetRespond(respondWithAdm(price, d.adm))
		}
		t.Cleanup(s.Close)
		dsps = append(dsps, [2]string{d.name, s.Endpoint()})
	}
	ok := dspsim.New(dspsim.Options{Price: "1.00"})
	t.Cleanup(ok.Close)
	dsps = append(dsps, [2]string{"fallback", ok.Endpoint()})
	b := startMarkupBridge(t, config.DeliveryInline, dsps, "")

	res, _ := b.bid(t, pngCreative, 7)
	if tmax := b.cfg.Auction.TMax; res.Latency > tmax+time.Second {
		t.Errorf("/bid took %s with a hanging creative (tmax %s)", res.Latency, tmax)
	}
	if len(res.Wins) != 1 || !strings.HasPrefix(res.Wins[0].ServeURL, ok.URL()+"/win?") {
		t.Fatalf("wins %+v, want the fallback DSP's nurl", res.Wins)
	}
	b.stop()                                                           // flushes the rejection tally
	st, err := store.Open(context.Background(), b.cfg.Database.URL, 2) // as `bridge payments dsps` does
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	got, err := st.Rejections(context.Background(), day.Add(-24*time.Hour), day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"hanging": "creative_timeout", "oversized": "creative_too_large", "wrongsize": "creative_mismatch", "scripted": "unrenderable_markup"}
	for dsp, reason := range want {
		if got[dsp][reason] != 1 || len(got[dsp]) != 1 {
			t.Errorf("%s: stored rejections %v, want one %s", dsp, got[dsp], reason)
		}
	}
}

// respondWithAdm answers every imp with one bid carrying adm.
func respondWithAdm(price, adm string) func(r *openrtb2.BidRequest) (int, []byte) {
	return func(r *openrtb2.BidRequest) (int, []byte) {
		var bids []map[string]any
		for _, imp := range r.Imp {
			bids = append(bids, map[string]any{"id": "b-" + imp.ID, "impid": imp.ID, "price": json.Number(price), "adm": adm})
		}
		body, _ := json.Marshal(map[string]any{"id": r.ID, "seatbid": []any{map[string]any{"bid": bids}}})
		return http.StatusOK, body
	}
}

// tlsConfigOf trusts the test https server (nil: none).
func tlsConfigOf(s *httptest.Server) *tls.Config {
	if s == nil {
		return nil
	}
	return s.Client().Transport.(*http.Transport).TLSClientConfig
}
