package bridge

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testcfg"
	"github.com/adshares/dsp-bridge/internal/testjson"
	"github.com/adshares/dsp-bridge/inventory"
)

// TestBodyFixtures pins how AdServer /bid bodies (PHP json_encode output,
// sent byte for byte) become the auction's request: bridge/testdata holds
// the bodies, auction/testdata what DSPs receive for the same requests.
func TestBodyFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 4 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	catalog, err := inventory.NewCatalog(testcfg.Config())
	if err != nil {
		t.Fatal(err)
	}
	h := NewBidHandler(nil, catalog, discard)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var f struct {
				Body            json.RawMessage `json:"body"`
				ExpectedRequest json.RawMessage `json:"expectedRequest"`
			}
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			call, err := ParseBidCall(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(h.auctionRequest(context.Background(), call))
			testjson.Equal(t, "auction request", got, f.ExpectedRequest)
		})
	}
}

func TestBadInputIsA4xxOrEmpty(t *testing.T) {
	s := sim(t, dspsim.Options{})
	e := newEnv(t, auctionConfig(testDSP("d", s.Endpoint())))
	cases := []struct{ name, body string }{
		{"malformed", `{"requests":`},
		{"not an object", `[1,2]`},
		{"requests a string", `{"requests":"x"}`},
		{"requests missing", `{"context":{}}`},
		{"request_id a number", `{"requests":[{"request_id":1,"creative_id":"` + creativePNG + `"}]}`},
		{"request_id missing", `{"requests":[{"creative_id":"` + creativePNG + `"}]}`},
		{"site a string", `{"context":{"site":"x"},"requests":[{"request_id":"1","creative_id":"` + creativePNG + `"}]}`},
		{"mimes an object of objects", `{"requests":[{"request_id":"1","creative_id":"` + creativePNG + `","mimes":{"a":{}}}]}`},
		{"topframe garbage", `{"requests":[{"request_id":"1","creative_id":"` + creativePNG + `","topframe":"maybe"}]}`},
		{"oversized", `{"requests":[],"pad":"` + strings.Repeat("x", 70<<10) + `"}`},
		{"empty body", ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := e.post("/bid", tc.body)
			if status < 400 || status > 499 || !strings.Contains(string(raw), `"error":`) {
				t.Fatalf("status %d body %s, want a 4xx JSON error", status, raw)
			}
		})
	}
	for _, body := range []string{
		`{"requests":[]}`, `{"requests":{}}`, `{"context":[],"requests":[{"request_id":"1","creative_id":"ffffffffffffffffffffffffffffffff"}]}`,
	} {
		out := e.bid(body)
		if len(out) != 0 {
			t.Fatalf("%s: answer %+v, want []", body, out)
		}
	}
	if s.RequestCount() != 0 {
		t.Fatalf("DSP called %d times for bad or empty input", s.RequestCount())
	}
	// The alias answers like /bid.
	if status, raw := e.post("/serve", simpleBid(creativePNG)); status != 200 || !strings.Contains(string(raw), `"ext_id"`) {
		t.Fatalf("/serve: %d %s", status, raw)
	}
}

func sim(t *testing.T, o dspsim.Options) *dspsim.Server {
	t.Helper()
	s := dspsim.New(o)
	t.Cleanup(s.Close)
	return s
}
