package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/browser"
)

// A real headless Chromium shows the bridge's serve_url the way the
// Adshares page does (XHR blob, no credentials, an Origin; <img> or a muted
// autoplaying <video>, BROWSER.md) from a page on its own loopback origin:
// an image markup DSP's image decodes at the slot size, a VAST DSP's mp4
// plays. Inline (a data: URI) and public (public_listen behind an https
// origin, another origin than the page's).
func TestBrowserShowsMarkupCreatives(t *testing.T) {
	b := browser.New(t) // skips with a message when Chromium is not installed
	images := dspsim.New(dspsim.Options{Creative: dspsim.CreativeImage, Price: "2.00"})
	t.Cleanup(images.Close)
	videos := dspsim.New(dspsim.Options{Creative: dspsim.CreativeVAST, Price: "1.50", VideoBytes: dspsim.SampleMP4, VideoMime: "video/mp4"})
	t.Cleanup(videos.Close)
	image := fetch(t, images.URL()+"/creative/300x250.png")
	sha := func(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

	for _, delivery := range []string{config.DeliveryInline, config.DeliveryPublic} {
		t.Run(delivery, func(t *testing.T) {
			br := startMarkupBridge(t, delivery, [][2]string{{"images", images.Endpoint()}, {"videos", videos.Endpoint()}}, "")
			for _, tc := range []struct {
				creative string
				kind     browser.Kind
				bytes    []byte
			}{
				{pngCreative, browser.Image, image},
				// The image DSP bids higher on the video slot too: its markup
				// is refused (creative_mismatch) and the VAST bid wins.
				{videoCreative, browser.Video, dspsim.SampleMP4},
			} {
				res, _ := br.bid(t, tc.creative, 11)
				if len(res.Wins) != 1 {
					t.Fatalf("%s: wins %+v", tc.kind, res.Wins)
				}
				u := res.Wins[0].ServeURL
				wantPrefix := "data:"
				if delivery == config.DeliveryPublic {
					wantPrefix = br.tls.URL + "/c/"
				}
				if !strings.HasPrefix(u, wantPrefix) {
					t.Fatalf("%s serve_url %.60s, want %s…", tc.kind, u, wantPrefix)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				got, err := b.ShowAd(ctx, u, tc.kind)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s %s: the page saw %v", delivery, tc.kind, got)
				if !got.Shown || got.Width != 300 || got.Height != 250 || got.SHA1 != sha(tc.bytes) {
					t.Errorf("%s: shown %v at %dx%d sha1 %s (error %q), want shown at 300x250 with the DSP's bytes (%s)",
						tc.kind, got.Shown, got.Width, got.Height, got.SHA1, got.Error, sha(tc.bytes))
				}
				if tc.kind == browser.Video && (got.ReadyState < 3 || !got.Playing) {
					t.Errorf("video readyState %d playing %v, want a playable, autoplaying video", got.ReadyState, got.Playing)
				}
				if delivery == config.DeliveryPublic && strings.HasPrefix(br.tls.URL, got.Origin) {
					t.Errorf("the page and the creative share the origin %s", got.Origin)
				}
			}
		})
	}
}
