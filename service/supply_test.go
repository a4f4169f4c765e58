package service

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

// A MoPub-style bid without a price wins at dsps[].fixed_cpm and its view
// is billed at it; a Mopedo-style DSP gets its seat as wseat; a DSP whose
// dsps[].only excludes the traffic and a crawler's request reach no DSP;
// all of it shows in /metrics and /readyz. Config from a real YAML file.
func TestSupplyQuirksFromConfigToBilling(t *testing.T) {
	mopub := startSim(t, dspsim.Options{})
	mopub.SetRespond(func(r *openrtb2.BidRequest) (int, []byte) {
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"bid":[{"id":"mp1","impid":"` + r.Imp[0].ID +
			`","nurl":"` + mopub.URL() + `/win","crid":"111491","adomain":["domain.com"]}]}]}`)
	})
	mopedo := startSim(t, dspsim.Options{Price: "1.00", Seat: "mopedo-1"})
	geo := startSim(t, dspsim.Options{Price: "9.00"})
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	writeOpsConfig(t, path, testdb.URL(t), []opsDSP{
		{"mopub", mopub.Endpoint(), "300ms", `price_missing: fixed, fixed_cpm: "1.20", blocking: {presets: [mopub]}`},
		{"mopedo", mopedo.Endpoint(), "300ms", `seat: mopedo-1, qps: 1000`},
		{"geo", geo.Endpoint(), "300ms", `only: {countries: [DE]}`},
	}, "traffic:\n  min_human_score: 0.4\n")
	svc, stop := startFile(t, path, io.Discard)
	defer stop()

	wins := postBid(t, svc.Addr(), 1)
	if len(wins) != 1 {
		t.Fatalf("wins %+v", wins)
	}
	ctx := context.Background()
	a, err := svc.Store.GetAuction(ctx, wins[0].ExtID)
	if err != nil {
		t.Fatal(err)
	}
	if a.DSP != "mopub" || a.PriceMicros != 1_200_000 || !a.FixedPrice || a.BidPrice != "1.20" || a.CrID != "111491" {
		t.Fatalf("stored win %+v, want mopub at the fixed 1.20 CPM", a)
	}
	if code := get(t, "http://"+svc.Addr()+"/view?extid="+wins[0].ExtID+"&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500"); code != 204 {
		t.Fatalf("/view = %d", code)
	}
	var value, price int64
	if err := svc.Store.Pool.QueryRow(ctx, `SELECT value, price_micros FROM events WHERE ext_id = $1 AND type = 'view'`,
		wins[0].ExtID).Scan(&value, &price); err != nil {
		t.Fatal(err)
	}
	if want := ads.ViewValue(1_200_000, 50_000_000); price != 1_200_000 || value != want || want != 2_400_000_000 {
		t.Fatalf("billed view: price %d value %d, want 1200000 and %d clicks (1.20 USD CPM at 0.05 USD/ADS)", price, value, want)
	}

	got := mopedo.Requests()
	if len(got) != 1 || len(got[0].Request.WSeat) != 1 || got[0].Request.WSeat[0] != "mopedo-1" {
		t.Fatalf("mopedo's requests %+v, want wseat [mopedo-1]", got)
	}
	if bcat := mopub.Requests()[0].Request.BCat; len(bcat) != 6 {
		t.Fatalf("mopub's bcat %v, want the 6 of the mopub preset", bcat)
	}

	// A crawler: nobody is asked.
	crawler := strings.Replace(bidBody(1), `"keywords":[]`, `"keywords":{"device":{"crawler":true}}`, 1)
	resp, err := http.Post("http://"+svc.Addr()+"/bid", "application/json", strings.NewReader(crawler))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("crawler /bid = %d %s, want 200 []", resp.StatusCode, body)
	}
	if mopub.RequestCount() != 1 || mopedo.RequestCount() != 1 || geo.RequestCount() != 0 {
		t.Fatalf("requests mopub %d mopedo %d geo %d, want 1 1 0", mopub.RequestCount(), mopedo.RequestCount(), geo.RequestCount())
	}

	m := scrape(t, svc.MetricsAddr())
	for k, v := range map[string]float64{
		`bridge_auctions_total{outcome="invalid_traffic"}`:               1,
		`bridge_invalid_traffic_total{reason="crawler"}`:                 1,
		`bridge_invalid_traffic_total{reason="human_score"}`:             0,
		`bridge_dsp_responses_total{dsp="geo",outcome="skipped_filter"}`: 1,
		`bridge_dsp_nonbids_total{dsp="geo",reason="skipped_filter"}`:    1,
		`bridge_dsp_requests_total{dsp="geo"}`:                           0,
		`bridge_dsp_qps_limit{dsp="mopedo"}`:                             1000,
		`bridge_dsp_qps_limit{dsp="mopub"}`:                              0,
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	_, ready := readyz(t, svc.Addr())
	list := ready["dsps"].(map[string]any)["dsps"].([]any)
	g := list[2].(map[string]any)
	if g["name"] != "geo" || g["skipped_filter"] != 1.0 || g["only"] != "countries DE" || list[1].(map[string]any)["qps"] != 1000.0 {
		t.Fatalf("readyz dsps %v", list)
	}
}
