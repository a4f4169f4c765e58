package creative

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The parsers read what any DSP sends: they must never panic, and what they
// accept must hold their promises (absolute http(s) URLs, caps).

func FuzzParseImageMarkup(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(strings.ReplaceAll(fx.Bid.AdM, "{{SERVER}}", "http://127.0.0.1:1"))
	}
	f.Add(`<a href="http://127.0.0.1/c"><img src="http://127.0.0.1/i.png"></a><img src="http://127.0.0.1/p" width=1 height=1>`)
	f.Fuzz(func(t *testing.T, adm string) {
		m, err := ParseImageMarkup(adm)
		if err != nil {
			if ReasonOf(err) != ReasonUnrenderable && ReasonOf(err) != ReasonTooLarge {
				t.Fatalf("reason %s", ReasonOf(err))
			}
			return
		}
		if _, ok := absURL(m.ImageURL); !ok {
			t.Fatalf("image URL %q", m.ImageURL)
		}
		if m.ClickURL != "" {
			if _, ok := absURL(m.ClickURL); !ok {
				t.Fatalf("click URL %q", m.ClickURL)
			}
		}
		if len(m.Pixels) > MaxPixels {
			t.Fatalf("%d pixels", len(m.Pixels))
		}
		for _, p := range m.Pixels {
			if _, ok := absURL(p); !ok {
				t.Fatalf("pixel URL %q", p)
			}
		}
		if strings.Contains(strings.ToLower(adm), "<script") {
			t.Fatalf("accepted a script: %q", adm)
		}
	})
}

func FuzzParseVAST(f *testing.F) {
	files, _ := filepath.Glob("testdata/vast/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.ReplaceAll(string(b), "{{SERVER}}", "http://127.0.0.1:1"))
	}
	f.Fuzz(func(t *testing.T, doc string) {
		ad, err := ParseVAST([]byte(doc))
		if err != nil {
			if ReasonOf(err) != ReasonUnrenderable && ReasonOf(err) != ReasonTooLarge {
				t.Fatalf("reason %s", ReasonOf(err))
			}
			return
		}
		if !vastVersion.MatchString(ad.Version) {
			t.Fatalf("version %q", ad.Version)
		}
		if ad.WrapperURI != "" && len(ad.MediaFiles) > 0 {
			t.Fatal("a wrapper with media files")
		}
		if ad.trackers() > MaxTrackers {
			t.Fatalf("%d trackers", ad.trackers())
		}
		all := append(append(append([]string{ad.ClickThrough}, ad.Impressions...), ad.Errors...), ad.ClickTracking...)
		for _, m := range ad.MediaFiles {
			all = append(all, m.URL)
		}
		for _, e := range ad.Tracking {
			all = append(all, e.URL)
		}
		if ad.WrapperURI != "" {
			all = append(all, ad.WrapperURI)
		}
		for _, u := range all[1:] {
			if _, ok := absURL(u); !ok {
				t.Fatalf("URL %q", u)
			}
		}
		if ad.ClickThrough != "" {
			if _, ok := absURL(ad.ClickThrough); !ok {
				t.Fatalf("click-through %q", ad.ClickThrough)
			}
		}
	})
}
