package config

import (
	"strings"
	"testing"
)

// The per-DSP supply keys load from YAML (and, as part of dsps, from env),
// with their defaults.
func TestDSPSupplyKeys(t *testing.T) {
	body := minimal + `adserver:
  address: 0001-00000005-CBCA
supply_chain:
  asi: bridge.example.org
privacy:
  gdpr: 1
  consent: "1"
dsps:
  - name: mopub
    endpoint: http://127.0.0.1:1/
    qps: 50
    price_missing: fixed
    fixed_cpm: "1.20"
    blocking: {presets: [mopub], badv: [spam.example]}
    privacy: {consent: ""}
  - name: mezzo
    endpoint: http://127.0.0.1:2/
    dialect: "2.5"
    require: [crid, adomain, cat]
    only: {sizes: [320x50], types: [image], countries: [kr, USA], devices: [mobile]}
`
	cfg, _, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	m, z := cfg.DSPs[0], cfg.DSPs[1]
	if m.QPS != 50 || m.PriceMissing != "fixed" || m.FixedCPM != "1.20" || m.Blocking.Presets[0] != "mopub" || m.Privacy.Consent == nil || *m.Privacy.Consent != "" {
		t.Errorf("mopub = %+v", m)
	}
	if z.PriceMissing != PriceMissingReject || len(z.Require) != 3 || z.Only.Countries[0] != "kr" || z.Only.Devices[0] != "mobile" {
		t.Errorf("mezzo = %+v", z)
	}
	if cfg.SupplyChain.SID != "0001-00000005-CBCA" || cfg.SupplyChain.Complete != 1 || cfg.Traffic.MinHumanScore != 0.4 {
		t.Errorf("supply chain %+v, traffic %+v", cfg.SupplyChain, cfg.Traffic)
	}
	merged := cfg.Privacy.Over(m.Privacy)
	if *merged.GDPR != 1 || *merged.Consent != "" {
		t.Errorf("mopub's privacy over the defaults = gdpr %v consent %q", *merged.GDPR, *merged.Consent)
	}
}

// Every bad supply setting is reported at once.
func TestSupplyProblemsAllListed(t *testing.T) {
	body := minimal + `supply_chain: {asi: "https://Bridge.example/", complete: 2}
privacy: {gdpr: 2, us_privacy: "YES", gpp_sid: [0]}
blocking: {presets: [nosuch], bcat: [adult], badv: ["not a domain"], battr: [99]}
traffic: {min_human_score: 2}
auction: {imp_exp: 1500ms}
dsps:
  - name: bad
    endpoint: http://127.0.0.1:1/
    qps: -1
    price_missing: fixed
    require: [price]
    only: {sizes: [big], types: [audio], countries: [XX], devices: [watch]}
    privacy: {coppa: 3}
  - name: stray
    endpoint: http://127.0.0.1:2/
    fixed_cpm: "1"
`
	_, _, err := Load(writeFile(t, body))
	problems, ok := AsProblems(err)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{"supply_chain.asi", "supply_chain.sid", "supply_chain.complete", "privacy.gdpr", "privacy.us_privacy",
		"privacy.gpp_sid", "blocking.presets", "blocking.bcat", "blocking.badv", "blocking.battr", "traffic.min_human_score",
		"auction.imp_exp", "qps -1", "needs fixed_cpm", `require: "price"`, "only.sizes", "only.types", "only.countries", "only.devices",
		"privacy.coppa", "(stray): fixed_cpm is used only"} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem about %s in:\n%s", want, all)
		}
	}
}
