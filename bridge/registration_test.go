package bridge_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/bridge"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/inventory"
	"github.com/adshares/dsp-bridge/store"
)

// registrationConfig loads a config the way `bridge serve` does, so
// defaults and derived ids are the real ones.
func registrationConfig(t *testing.T, dspEndpoint string) *config.Config {
	t.Helper()
	t.Setenv("BRIDGE_ADSHARES_ADDRESS", "0001-00000003-AB0C")
	t.Setenv("BRIDGE_MONEY_ADS_USD", "0.05")
	t.Setenv("BRIDGE_BASE_URL", "http://127.0.0.1:8015")
	t.Setenv("BRIDGE_DSPS", `[{"name":"sim","endpoint":"`+dspEndpoint+`","allow_networks":["127.0.0.0/8"]}]`)
	t.Setenv("BRIDGE_INVENTORY_CAMPAIGNS", `[{"id":"5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50","creatives":[
		{"id":"9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b","type":"image","mime":"image/png","size":"300x250"},
		{"type":"video","mime":"video/mp4","size":"640x360"}]}]`)
	cfg, _, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAnswersPassTheAdServersRules runs /info.json, /inventory and /bid
// answers through the AdServer's own validation rules (adserversim), and
// checks that broken variants of them fail those rules.
func TestAnswersPassTheAdServersRules(t *testing.T) {
	sim := dspsim.New(dspsim.Options{Price: "2.00"})
	defer sim.Close()
	cfg := registrationConfig(t, sim.Endpoint())
	st := testdb.New(t)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d, err := bridge.NewDemand(context.Background(), cfg, st, log, bridge.DemandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ts := httptest.NewServer(bridge.NewServer(cfg, log, nil, d).Handler())
	defer ts.Close()

	status, info := get(t, ts.URL+"/info.json")
	if status != 200 {
		t.Fatalf("/info.json %d", status)
	}
	if err := adserversim.ValidateInfo(info, cfg.Adshares.Address, cfg.BaseURL); err != nil {
		t.Fatalf("info.json fails the AdServer's rules: %v\n%s", err, info)
	}
	if err := adserversim.ValidateInfo(info, "0001-00000005-CBCA", cfg.BaseURL); err == nil {
		t.Fatal("info.json for another account passed")
	}
	if err := adserversim.ValidateInfo([]byte(strings.Replace(string(info), `"dsp-bridge"`, `"adserver"`, 1)), cfg.Adshares.Address, cfg.BaseURL); err == nil {
		t.Fatal("info.json with a wrong module passed")
	}

	var fetched string
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*)::text FROM settings WHERE key = $1`, store.SettingInventoryFirstFetchedAt).Scan(&fetched); err != nil || fetched != "0" {
		t.Fatalf("first fetch recorded before any fetch: %s %v", fetched, err)
	}
	status, inv := get(t, ts.URL+"/inventory")
	if status != 200 {
		t.Fatalf("/inventory %d", status)
	}
	if err := adserversim.ValidateInventory(inv, cfg.Inventory.Classifier); err != nil {
		t.Fatalf("inventory fails the AdServer's rules: %v\n%s", err, inv)
	}
	for _, broken := range []string{
		strings.Replace(string(inv), `"checksum":""`, `"checksum":"abc"`, 1),
		strings.Replace(string(inv), `"id":"9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b"`, `"id":"9f3b2a10-c4d5-4e6f-8a7b-6c5d4e3f2a1b"`, 1),
		strings.Replace(string(inv), `+00:00`, `Z`, 1),
	} {
		if err := adserversim.ValidateInventory([]byte(broken), cfg.Inventory.Classifier); err == nil {
			t.Fatalf("a broken inventory passed: %s", broken)
		}
	}
	var first, start string
	st.Pool.QueryRow(context.Background(), `SELECT value FROM settings WHERE key = $1`, store.SettingInventoryFirstFetchedAt).Scan(&first)
	st.Pool.QueryRow(context.Background(), `SELECT value FROM settings WHERE key = $1`, store.SettingFirstStart).Scan(&start)
	if _, err := ads.ParseATOM(first); err != nil {
		t.Fatalf("first fetch not recorded: %q", first)
	}
	if _, err := ads.ParseATOM(start); err != nil || !strings.Contains(string(inv), `"date_start":"`+start+`"`) {
		t.Fatalf("first start %q is not the default date_start", start)
	}
	// The inventory's placeholder serve_url answers an image.
	var doc []inventory.Campaign
	json.Unmarshal(inv, &doc)
	if code, _ := get(t, strings.Replace(doc[0].Creatives[0].ServeURL, cfg.BaseURL, ts.URL, 1)); code != 200 {
		t.Fatalf("placeholder serve_url answered %d", code)
	}

	body := `{"context":{"device":{"ip":"203.0.113.9"}},"requests":{"4":{"request_id":"4","creative_id":"` + doc[0].Creatives[1].ID + `"}}}`
	resp, err := http.Post(ts.URL+"/bid", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := adserversim.ValidateBidResponse(resp.StatusCode, answer, []string{"4"}); err != nil || !strings.Contains(string(answer), `"ext_id"`) {
		t.Fatalf("/bid answer fails the AdServer's rules: %v\n%s", err, answer)
	}
	if err := adserversim.ValidateBidResponse(resp.StatusCode, answer, []string{"5"}); err == nil {
		t.Fatal("an answer for an unknown request_id passed")
	}
	if err := adserversim.ValidateBidResponse(200, []byte(`[{"request_id":4,"ext_id":"x","serve_url":"http://a/"}]`), []string{"4"}); err == nil {
		t.Fatal("a numeric request_id passed")
	}
}

// TestInventoryDatesAreStable checks that restarts keep created_at and
// updated_at, and that changing a campaign moves its updated_at.
func TestInventoryDatesAreStable(t *testing.T) {
	cfg := registrationConfig(t, "http://127.0.0.1:9/")
	st := testdb.New(t)
	ctx := context.Background()
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	a, err := inventory.LoadTimes(ctx, st, cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := inventory.LoadTimes(ctx, st, cfg, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id := cfg.Inventory.Campaigns[0].ID
	if !b.FirstStart.Equal(t0) || !b.Campaigns[id].Updated.Equal(t0) || !b.Campaigns[id].Created.Equal(t0) {
		t.Fatalf("restart changed dates: %+v then %+v", a, b)
	}
	cfg.Inventory.Campaigns[0].MaxCPM++
	c, err := inventory.LoadTimes(ctx, st, cfg, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Campaigns[id].Created.Equal(t0) || !c.Campaigns[id].Updated.Equal(t0.Add(2*time.Hour)) || !c.FirstStart.Equal(t0) {
		t.Fatalf("after a change: %+v", c.Campaigns[id])
	}
	doc := inventory.Document(cfg, c)
	if doc[0].UpdatedAt != "2024-01-02T05:04:05+00:00" || doc[0].Creatives[0].Classification[cfg.Inventory.Classifier].SignedAt != doc[0].UpdatedAt {
		t.Fatalf("document dates %+v", doc[0])
	}
}

func TestBadInventoryConfigFailsAtStart(t *testing.T) {
	cfg := registrationConfig(t, "http://127.0.0.1:9/")
	for name, mutate := range map[string]func(c *config.Config){
		"unknown type": func(c *config.Config) { c.Inventory.Campaigns[0].Creatives[0].Type = "html" },
		"bad size":     func(c *config.Config) { c.Inventory.Campaigns[0].Creatives[0].Size = "300*250" },
		"bad mime":     func(c *config.Config) { c.Inventory.Campaigns[0].Creatives[0].Mime = "image/bmp" },
		"duplicate id": func(c *config.Config) {
			c.Inventory.Campaigns[0].Creatives[1].ID = c.Inventory.Campaigns[0].Creatives[0].ID
		},
		"landing_url":   func(c *config.Config) { c.Inventory.Campaigns[0].LandingURL = "not a url" },
		"video as jpeg": func(c *config.Config) { c.Inventory.Campaigns[0].Creatives[1].Mime = "image/jpeg" },
	} {
		c := *cfg
		c.Inventory.Campaigns = []config.Campaign{cfg.Inventory.Campaigns[0]}
		c.Inventory.Campaigns[0].Creatives = append([]config.Creative(nil), cfg.Inventory.Campaigns[0].Creatives...)
		mutate(&c)
		if _, err := inventory.NewCatalog(&c); err == nil {
			t.Errorf("%s: accepted", name)
		} else if len(c.Validate()) == 0 {
			t.Errorf("%s: config.Validate does not report it (bridge config check would pass)", name)
		}
	}
}

// With money.fee set, /info.json announces it as demandFee (a fraction),
// which the AdServer stores and never applies to bridge payments; without
// it the key is left out.
func TestInfoAnnouncesTheFeeAsDemandFee(t *testing.T) {
	cfg := registrationConfig(t, "http://127.0.0.1:1/")
	for _, tc := range []struct{ fee, want string }{{"0.125", `"demandFee":0.125`}, {"", ""}} {
		cfg.Money.Fee = tc.fee
		body, _ := json.Marshal(bridge.NewInfo(cfg, "0.1.0").Document())
		if err := adserversim.ValidateInfo(body, cfg.Adshares.Address, cfg.BaseURL); err != nil {
			t.Fatalf("fee %q: info.json fails the AdServer's rules: %v\n%s", tc.fee, err, body)
		}
		if got := strings.Contains(string(body), `"demandFee"`); got != (tc.want != "") || (tc.want != "" && !strings.Contains(string(body), tc.want)) {
			t.Fatalf("fee %q: %s, want %s", tc.fee, body, tc.want)
		}
	}
}
