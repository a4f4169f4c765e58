package creative

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/macros"
)

// fixture is one bid as a DSP of a given style sends it (testdata/bids), the
// slot it fills and what resolution must give. {{SERVER}} stands for the
// asset server's URL.
type fixture struct {
	Description string       `json:"description"`
	Slot        Slot         `json:"slot"`
	Bid         openrtb2.Bid `json:"bid"`
	AdmFile     string       `json:"adm_file"` // adm read from testdata instead
	Price       string       `json:"price"`    // ${AUCTION_PRICE}; default: the bid's price as sent
	Want        struct {
		Reason        Reason         `json:"reason"`
		Path          Path           `json:"path"`
		ContentType   string         `json:"content_type"`
		W             int            `json:"w"`
		H             int            `json:"h"`
		Wrappers      int            `json:"wrappers"`
		Source        string         `json:"source"`
		Click         string         `json:"click"`
		Impressions   []string       `json:"impressions"`
		ClickTrackers []string       `json:"click_trackers"`
		Errors        []string       `json:"errors"`
		Tracking      []string       `json:"tracking"` // "event[@offset] URL"
		NURL          string         `json:"nurl"`     // the nurl with every macro form expanded
		Hits          map[string]int `json:"hits"`     // asset server hits after resolution
	} `json:"want"`
}

func loadFixtures(t testing.TB) map[string]fixture {
	t.Helper()
	files, err := filepath.Glob("testdata/bids/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string]fixture{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(raw, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if fx.AdmFile != "" {
			b, err := os.ReadFile(filepath.Join("testdata", fx.AdmFile))
			if err != nil {
				t.Fatal(err)
			}
			fx.Bid.AdM = string(b)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = fx
	}
	return out
}

// fill replaces {{SERVER}} in every string of the fixture.
func (fx *fixture) fill(server string) {
	r := strings.NewReplacer("{{SERVER}}", server)
	fx.Bid.AdM, fx.Bid.NURL, fx.Bid.BURL = r.Replace(fx.Bid.AdM), r.Replace(fx.Bid.NURL), r.Replace(fx.Bid.BURL)
	w := &fx.Want
	w.Source, w.Click, w.NURL = r.Replace(w.Source), r.Replace(w.Click), r.Replace(w.NURL)
	for _, l := range [][]string{w.Impressions, w.ClickTrackers, w.Errors, w.Tracking} {
		for i := range l {
			l[i] = r.Replace(l[i])
		}
	}
}

func (fx *fixture) values() macros.Values {
	price := fx.Price
	if price == "" {
		b, _ := json.Marshal(fx.Bid.Price)
		price = string(b)
	}
	return macros.Values{AuctionID: "auction-1", BidID: fx.Bid.ID, ImpID: fx.Bid.ImpID, Price: price, Currency: "USD"}
}

// TestFixtures resolves every fixture bid the way the auction will: the adm
// when there is one, else the nurl body.
func TestFixtures(t *testing.T) {
	for name, fx := range loadFixtures(t) {
		t.Run(name, func(t *testing.T) {
			srv := newAssets(t)
			fx.fill(srv.URL)
			r := New(srv.Client(), Config{})
			defer r.Close()
			v := fx.values()
			var c *Creative
			var err error
			if fx.Bid.AdM != "" {
				c, err = r.Markup(context.Background(), fx.Slot, fx.Bid.AdM, v)
			} else {
				c, err = r.NURL(context.Background(), fx.Slot, macros.ExpandAll(fx.Bid.NURL, v))
			}
			w := fx.Want
			if got := ReasonOf(err); got != w.Reason {
				t.Fatalf("%s\nreason %q, want %q (err %v)", fx.Description, got, w.Reason, err)
			}
			if w.Hits != nil {
				if got := srv.allHits(); !reflect.DeepEqual(got, w.Hits) {
					t.Errorf("asset server hits %v, want %v", got, w.Hits)
				}
			}
			if w.NURL != "" {
				if got := macros.ExpandAll(fx.Bid.NURL, v); got != w.NURL {
					t.Errorf("nurl expands to %q, want %q", got, w.NURL)
				}
			}
			if err != nil {
				return
			}
			var tracking []string
			for _, e := range c.Tracking {
				ev := e.Event
				if e.Offset != "" {
					ev += "@" + e.Offset
				}
				tracking = append(tracking, ev+" "+e.URL)
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"path", c.Path, w.Path},
				{"content type", c.ContentType, w.ContentType},
				{"size", [2]int{c.W, c.H}, [2]int{w.W, w.H}},
				{"wrappers", c.Wrappers, w.Wrappers},
				{"source", c.SourceURL, w.Source},
				{"click", c.ClickURL, w.Click},
				{"impressions", c.ImpressionURLs, w.Impressions},
				{"click trackers", c.ClickTrackers, w.ClickTrackers},
				{"errors", c.ErrorURLs, w.Errors},
				{"tracking", tracking, w.Tracking},
			}
			for _, ck := range checks {
				if !reflect.DeepEqual(ck.got, ck.want) {
					t.Errorf("%s: %v, want %v", ck.what, ck.got, ck.want)
				}
			}
			if want := srv.fileOrGenerated(t, c.SourceURL); string(c.Bytes) != string(want) {
				t.Errorf("bytes are not the asset's (%d vs %d bytes)", len(c.Bytes), len(want))
			}
			if c.SHA1 != sha1Hex(c.Bytes) {
				t.Errorf("sha1 %s is not of the bytes", c.SHA1)
			}
		})
	}
}

// fileOrGenerated GETs u again: the bytes a browser fetching it would get.
func (a *assets) fileOrGenerated(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := a.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}
