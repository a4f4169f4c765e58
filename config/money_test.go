package config

import (
	"strings"
	"testing"
	"time"
)

func TestMoneyDefaults(t *testing.T) {
	cfg, _, err := Load(writeFile(t, minimal+"dsps:\n  - name: a\n    endpoint: http://127.0.0.1:1/\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Money
	if m.RateURL != "" || m.RateRefresh != 10*time.Minute || m.RateMaxAge != 6*time.Hour || m.FeePPM() != 0 {
		t.Errorf("money defaults = %+v", m)
	}
	if d := cfg.DSPs[0]; d.BidAdjustment != "1" || d.BidAdjustmentPPM() != 1_000_000 {
		t.Errorf("bid_adjustment default = %q (%d ppm)", d.BidAdjustment, d.BidAdjustmentPPM())
	}
}

// With a rate feed, money.ads_usd is optional: it is only the starting rate
// of a database that never stored a fetched one.
func TestAdsUSDOptionalWithRateFeed(t *testing.T) {
	body := "adshares:\n  address: 0001-00000003-AB0C\nmoney:\n  rate_url: http://127.0.0.1:8010\n"
	cfg, _, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatalf("rate_url without ads_usd: %v", err)
	}
	if cfg.Money.AdsUSDNanos() != 0 {
		t.Errorf("ads_usd = %d", cfg.Money.AdsUSDNanos())
	}
	_, _, err = Load(writeFile(t, "adshares:\n  address: 0001-00000003-AB0C\n"))
	if p, _ := AsProblems(err); !strings.Contains(strings.Join(p, "\n"), "money.ads_usd: required unless money.rate_url") {
		t.Errorf("neither ads_usd nor rate_url: %v", err)
	}
}

func TestMoneyProblems(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"fee of one", "money:\n  ads_usd: \"0.05\"\n  fee: \"1\"\n", "money.fee:"},
		{"negative fee", "money:\n  ads_usd: \"0.05\"\n  fee: \"-0.1\"\n", "money.fee:"},
		{"fee with 7 decimals", "money:\n  ads_usd: \"0.05\"\n  fee: \"0.1234567\"\n", "money.fee:"},
		{"fee as percent", "money:\n  ads_usd: \"0.05\"\n  fee: \"15%\"\n", "money.fee:"},
		{"rate url not http", "money:\n  rate_url: ftp://x\n", "money.rate_url:"},
		{"rate url with query", "money:\n  rate_url: \"http://127.0.0.1:1/?k=1\"\n", "money.rate_url:"},
		{"refresh too short", "money:\n  rate_url: http://127.0.0.1:1\n  rate_refresh: 10ms\n", "money.rate_refresh:"},
		{"max age below refresh", "money:\n  rate_url: http://127.0.0.1:1\n  rate_refresh: 1h\n  rate_max_age: 30m\n", "money.rate_max_age:"},
		{"adjustment zero", "money:\n  ads_usd: \"0.05\"\ndsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\", bid_adjustment: \"0\"}\n", "dsps[0] (a): bid_adjustment"},
		{"adjustment too big", "money:\n  ads_usd: \"0.05\"\ndsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\", bid_adjustment: \"10.5\"}\n", "dsps[0] (a): bid_adjustment"},
		{"adjustment not decimal", "money:\n  ads_usd: \"0.05\"\ndsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\", bid_adjustment: \"85%\"}\n", "dsps[0] (a): bid_adjustment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(writeFile(t, "adshares:\n  address: 0001-00000003-AB0C\n"+tt.yaml))
			problems, _ := AsProblems(err)
			if !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Fatalf("problems %v lack %q", problems, tt.want)
			}
		})
	}
	cfg, _, err := Load(writeFile(t, "adshares:\n  address: 0001-00000003-AB0C\nmoney:\n  ads_usd: \"0.05\"\n  fee: \"0.999999\"\n"+
		"dsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\", bid_adjustment: \"10\"}\n  - {name: b, endpoint: \"http://127.0.0.1:2/\", bid_adjustment: \"0.000001\"}\n"))
	if err != nil {
		t.Fatalf("the bounds themselves are valid: %v", err)
	}
	if cfg.Money.FeePPM() != 999_999 || cfg.DSPs[0].BidAdjustmentPPM() != 10_000_000 || cfg.DSPs[1].BidAdjustmentPPM() != 1 {
		t.Errorf("parsed %d %d %d", cfg.Money.FeePPM(), cfg.DSPs[0].BidAdjustmentPPM(), cfg.DSPs[1].BidAdjustmentPPM())
	}
}
