package adserversim

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

const (
	bridgeAddr = "0001-00000003-AB0C"
	bridgeURL  = "http://127.0.0.1:8015"
)

// mutate loads a spec example from testdata, lets fn change the decoded
// value and returns it encoded again.
func mutate(t *testing.T, file string, fn func(v any) any) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if fn == nil {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(fn(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// set returns a mutation that sets (or with del, deletes) a key of the
// object found by walking path (keys and list indexes) from the root.
func set(key string, val any, path ...any) func(any) any {
	return func(root any) any {
		cur := root
		for _, p := range path {
			switch p := p.(type) {
			case int:
				cur = cur.([]any)[p]
			case string:
				cur = cur.(map[string]any)[p]
			}
		}
		if val == del {
			delete(cur.(map[string]any), key)
		} else {
			cur.(map[string]any)[key] = val
		}
		return root
	}
}

type deleted struct{}

var del any = deleted{}

func num(s string) json.Number { return json.Number(s) }

// checkVerdict asserts err is nil when wantPath is "", else a
// *ValidationError at exactly wantPath.
func checkVerdict(t *testing.T, name string, err error, wantPath string) {
	t.Helper()
	if wantPath == "" {
		if err != nil {
			t.Errorf("%s: unexpected error: %v", name, err)
		}
		return
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: want a failure at %q, got %v", name, wantPath, err)
		return
	}
	if ve.Path != wantPath && !(wantPath == "-" && ve.Path == "") {
		t.Errorf("%s: failure at %q, want %q (%v)", name, ve.Path, wantPath, err)
	}
}

func TestValidateInfo(t *testing.T) {
	tests := []struct {
		name     string
		body     []byte
		addr     string
		url      string
		wantPath string // "" passes; "-" fails on the whole body
	}{
		{"spec example", mutate(t, "info.json", nil), bridgeAddr, bridgeURL, ""},
		{"landingUrl null", mutate(t, "info.json", set("landingUrl", nil)), bridgeAddr, bridgeURL, ""},
		{"support email", mutate(t, "info.json", set("supportEmail", "ops@example.org")), bridgeAddr, bridgeURL, ""},
		{"ipv6 server", mutate(t, "info.json", set("serverUrl", "http://[::1]:8015")), bridgeAddr, "http://[::1]:8015", ""},
		{"empty body", nil, bridgeAddr, bridgeURL, "-"},
		{"not json", []byte(`{"module":`), bridgeAddr, bridgeURL, "-"},
		{"array", []byte(`[]`), bridgeAddr, bridgeURL, "-"},
		{"invalid utf8", []byte("{\"name\":\"\xff\"}"), bridgeAddr, bridgeURL, "-"},
		{"trailing data", append(mutate(t, "info.json", nil), "{}"...), bridgeAddr, bridgeURL, "-"},
		{"module missing", mutate(t, "info.json", set("module", del)), bridgeAddr, bridgeURL, "module"},
		{"module wrong", mutate(t, "info.json", set("module", "adserver")), bridgeAddr, bridgeURL, "module"},
		{"name null", mutate(t, "info.json", set("name", nil)), bridgeAddr, bridgeURL, "name"},
		{"name number", mutate(t, "info.json", set("name", num("1"))), bridgeAddr, bridgeURL, "name"},
		{"version number", mutate(t, "info.json", set("version", num("0.1"))), bridgeAddr, bridgeURL, "version"},
		{"capabilities string", mutate(t, "info.json", set("capabilities", "ADV")), bridgeAddr, bridgeURL, "capabilities"},
		{"capability unknown", mutate(t, "info.json", set("capabilities", []any{"ADV", "SSP"})), bridgeAddr, bridgeURL, "capabilities[1]"},
		{"capability lowercase", mutate(t, "info.json", set("capabilities", []any{"adv"})), bridgeAddr, bridgeURL, "capabilities[0]"},
		{"no ADV", mutate(t, "info.json", set("capabilities", []any{"PUB"})), bridgeAddr, bridgeURL, "capabilities"},
		{"serverUrl missing", mutate(t, "info.json", set("serverUrl", del)), bridgeAddr, bridgeURL, "serverUrl"},
		{"serverUrl differs from B", mutate(t, "info.json", set("serverUrl", "http://localhost:8015")), bridgeAddr, bridgeURL, "serverUrl"},
		{"serverUrl trailing slash", mutate(t, "info.json", set("serverUrl", "http://127.0.0.1:8015/")), bridgeAddr, bridgeURL, "serverUrl"},
		{"serverUrl with path", mutate(t, "info.json", set("serverUrl", "http://127.0.0.1:8015/bridge")), bridgeAddr, "http://127.0.0.1:8015/bridge", "serverUrl"},
		{"serverUrl uppercase", mutate(t, "info.json", set("serverUrl", "http://Bridge.example:8015")), bridgeAddr, "http://Bridge.example:8015", "serverUrl"},
		{"panelUrl missing", mutate(t, "info.json", set("panelUrl", del)), bridgeAddr, bridgeURL, "panelUrl"},
		{"privacyUrl missing", mutate(t, "info.json", set("privacyUrl", del)), bridgeAddr, bridgeURL, "privacyUrl"},
		{"termsUrl number", mutate(t, "info.json", set("termsUrl", num("3"))), bridgeAddr, bridgeURL, "termsUrl"},
		{"inventoryUrl missing", mutate(t, "info.json", set("inventoryUrl", del)), bridgeAddr, bridgeURL, "inventoryUrl"},
		{"inventoryUrl uppercase path", mutate(t, "info.json", set("inventoryUrl", "http://127.0.0.1:8015/Inventory")), bridgeAddr, bridgeURL, "inventoryUrl"},
		{"inventoryUrl no scheme", mutate(t, "info.json", set("inventoryUrl", "127.0.0.1:8015/inventory")), bridgeAddr, bridgeURL, "inventoryUrl"},
		{"inventoryUrl ftp", mutate(t, "info.json", set("inventoryUrl", "ftp://127.0.0.1/inventory")), bridgeAddr, bridgeURL, "inventoryUrl"},
		{"privacyUrl space", mutate(t, "info.json", set("privacyUrl", "http://127.0.0.1:8015/pri vacy")), bridgeAddr, bridgeURL, "privacyUrl"},
		{"termsUrl underscore host", mutate(t, "info.json", set("termsUrl", "http://my_host/terms")), bridgeAddr, bridgeURL, "termsUrl"},
		{"termsUrl empty segment", mutate(t, "info.json", set("termsUrl", "http://a..b/terms")), bridgeAddr, bridgeURL, "termsUrl"},
		{"termsUrl long segment", mutate(t, "info.json", set("termsUrl", "http://127.0.0.1:8015/"+strings.Repeat("t", 64))), bridgeAddr, bridgeURL, "termsUrl"},
		{"panelUrl too long", mutate(t, "info.json", set("panelUrl", "http://127.0.0.1:8015/"+strings.Repeat("p/", 120))), bridgeAddr, bridgeURL, "panelUrl"},
		{"panelUrl bad port", mutate(t, "info.json", set("panelUrl", "http://127.0.0.1:99999")), bridgeAddr, bridgeURL, "panelUrl"},
		{"landingUrl invalid", mutate(t, "info.json", set("landingUrl", "http://")), bridgeAddr, bridgeURL, "landingUrl"},
		{"adsAddress missing", mutate(t, "info.json", set("adsAddress", del)), bridgeAddr, bridgeURL, "adsAddress"},
		{"adsAddress other", mutate(t, "info.json", set("adsAddress", "0001-00000005-CBCA")), bridgeAddr, bridgeURL, "adsAddress"},
		{"adsAddress lowercase", mutate(t, "info.json", set("adsAddress", "0001-00000003-ab0c")), bridgeAddr, bridgeURL, "adsAddress"},
		{"supportEmail invalid", mutate(t, "info.json", set("supportEmail", "ops@localhost")), bridgeAddr, bridgeURL, "supportEmail"},
		{"supportEmail number", mutate(t, "info.json", set("supportEmail", num("5"))), bridgeAddr, bridgeURL, "supportEmail"},
		{"mode number", mutate(t, "info.json", set("mode", num("1"))), bridgeAddr, bridgeURL, "mode"},
		{"adsTxtRequired true", mutate(t, "info.json", set("adsTxtRequired", true)), bridgeAddr, bridgeURL, "adsTxtRequired"},
		{"demandFee string", mutate(t, "info.json", set("demandFee", "0.1")), bridgeAddr, bridgeURL, "demandFee"},
		{"supplyFee without PUB", mutate(t, "info.json", set("supplyFee", num("0.1"))), bridgeAddr, bridgeURL, "supplyFee"},
	}
	for _, tt := range tests {
		checkVerdict(t, tt.name, ValidateInfo(tt.body, tt.addr, tt.url), tt.wantPath)
	}
}

func TestValidateInventory(t *testing.T) {
	camp := func(key string, val any) []byte { return mutate(t, "inventory.json", set(key, val, 0)) }
	cr := func(key string, val any) []byte { return mutate(t, "inventory.json", set(key, val, 0, "creatives", 0)) }
	cls := func(key string, val any) []byte {
		return mutate(t, "inventory.json", set(key, val, 0, "creatives", 0, "classification", DefaultClassifier))
	}
	const c0 = "[0].creatives[0]"
	twoCampaigns := mutate(t, "inventory.json", func(v any) any {
		list := v.([]any)
		var second map[string]any
		b, _ := json.Marshal(list[0])
		_ = json.Unmarshal(b, &second)
		return append(list, second)
	})
	tests := []struct {
		name       string
		body       []byte
		classifier string
		wantPath   string
	}{
		{"spec example", mutate(t, "inventory.json", nil), DefaultClassifier, ""},
		{"no inventory", []byte(`[]`), DefaultClassifier, ""},
		{"other classifier not required", cls("signed_at", del), "", ""},
		{"date_end later", camp("date_end", "2030-01-01T00:00:00+00:00"), DefaultClassifier, ""},
		{"banners legacy key", mutate(t, "inventory.json", func(v any) any {
			m := v.([]any)[0].(map[string]any)
			m["banners"], m["creatives"] = m["creatives"], nil
			delete(m, "creatives")
			return v
		}), DefaultClassifier, ""},
		{"targeting as []", camp("targeting_requires", []any{}), DefaultClassifier, ""},
		{"targeting site", camp("targeting_excludes", map[string]any{"site": map[string]any{"category": []any{"adult"}}}), DefaultClassifier, ""},
		{"checksum absent", cr("checksum", del), DefaultClassifier, ""},
		{"protocol-relative serve_url", cr("serve_url", "//cdn.example.org/a.png"), DefaultClassifier, ""},
		{"empty body", []byte(""), DefaultClassifier, "-"},
		{"object", []byte(`{}`), DefaultClassifier, "-"},
		{"campaign not object", []byte(`[1]`), DefaultClassifier, "[0]"},
		{"duplicate campaign", twoCampaigns, DefaultClassifier, "[1].id"},
		{"id missing", camp("id", del), DefaultClassifier, "[0].id"},
		{"id uppercase", camp("id", "5F0C6A1E2B3D4C5E8F9A0B1C2D3E4F50"), DefaultClassifier, "[0].id"},
		{"id uuid dashes", camp("id", "5f0c6a1e-2b3d-4c5e-8f9a-0b1c2d3e4f50"), DefaultClassifier, "[0].id"},
		{"id number", camp("id", num("5")), DefaultClassifier, "[0].id"},
		{"landing_url missing", camp("landing_url", del), DefaultClassifier, "[0].landing_url"},
		{"landing_url null", camp("landing_url", nil), DefaultClassifier, "[0].landing_url"},
		{"date_start missing", camp("date_start", del), DefaultClassifier, "[0].date_start"},
		{"date_start Z", camp("date_start", "2023-08-01T00:00:00Z"), DefaultClassifier, "[0].date_start"},
		{"date_start fraction", camp("date_start", "2023-08-01T00:00:00.5+00:00"), DefaultClassifier, "[0].date_start"},
		{"date_start impossible", camp("date_start", "2023-02-30T00:00:00+00:00"), DefaultClassifier, "[0].date_start"},
		{"date_end missing", camp("date_end", del), DefaultClassifier, "[0].date_end"},
		{"date_end before start", camp("date_end", "2023-07-01T00:00:00+00:00"), DefaultClassifier, "[0].date_end"},
		{"date_end bad", camp("date_end", "tomorrow"), DefaultClassifier, "[0].date_end"},
		{"created_at missing", camp("created_at", del), DefaultClassifier, "[0].created_at"},
		{"updated_at number", camp("updated_at", num("1690848000")), DefaultClassifier, "[0].updated_at"},
		{"medium number", camp("medium", num("1")), DefaultClassifier, "[0].medium"},
		{"vendor number", camp("vendor", num("1")), DefaultClassifier, "[0].vendor"},
		{"max_cpc missing", camp("max_cpc", del), DefaultClassifier, "[0].max_cpc"},
		{"max_cpm null", camp("max_cpm", nil), DefaultClassifier, "[0].max_cpm"},
		{"max_cpm float", camp("max_cpm", num("2.5e11")), DefaultClassifier, "[0].max_cpm"},
		{"max_cpm negative", camp("max_cpm", num("-1")), DefaultClassifier, "[0].max_cpm"},
		{"budget zero", camp("budget", num("0")), DefaultClassifier, "[0].budget"},
		{"budget string", camp("budget", "1000"), DefaultClassifier, "[0].budget"},
		{"budget over int64", camp("budget", num("9223372036854775808")), DefaultClassifier, "[0].budget"},
		{"targeting_requires missing", camp("targeting_requires", del), DefaultClassifier, "[0].targeting_requires"},
		{"targeting_excludes string", camp("targeting_excludes", ""), DefaultClassifier, "[0].targeting_excludes"},
		{"targeting unknown root", camp("targeting_requires", map[string]any{"geo": map[string]any{}}), DefaultClassifier, "[0].targeting_requires.geo"},
		{"status sent", camp("status", num("2")), DefaultClassifier, "[0].status"},
		{"creatives missing", camp("creatives", del), DefaultClassifier, "[0].creatives"},
		{"creatives object", camp("creatives", map[string]any{"a": 1}), DefaultClassifier, "[0].creatives"},
		{"creative not object", camp("creatives", []any{"x"}), DefaultClassifier, c0},
		{"creative id missing", cr("id", del), DefaultClassifier, c0 + ".id"},
		{"creative id short", cr("id", "9f3b2a10"), DefaultClassifier, c0 + ".id"},
		{"creative id same as campaign", cr("id", "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50"), DefaultClassifier, c0 + ".id"},
		{"type html", cr("type", "html"), DefaultClassifier, c0 + ".type"},
		{"mime missing", cr("mime", del), DefaultClassifier, c0 + ".mime"},
		{"mime not for type", cr("mime", "video/mp4"), DefaultClassifier, c0 + ".mime"},
		{"size missing", cr("size", del), DefaultClassifier, c0 + ".size"},
		{"size bad", cr("size", "300 x 250"), DefaultClassifier, c0 + ".size"},
		{"serve_url missing", cr("serve_url", del), DefaultClassifier, c0 + ".serve_url"},
		{"serve_url relative", cr("serve_url", "/placeholder/x"), DefaultClassifier, c0 + ".serve_url"},
		{"serve_url too long", cr("serve_url", "http://127.0.0.1:8015/"+strings.Repeat("a", 1003)), DefaultClassifier, c0 + ".serve_url"},
		{"serve_url non-ascii", cr("serve_url", "http://127.0.0.1:8015/zażółć"), DefaultClassifier, c0 + ".serve_url"},
		{"click_url bad host", cr("click_url", "http://-bad-/click"), DefaultClassifier, c0 + ".click_url"},
		{"click_url protocol-relative", cr("click_url", "//127.0.0.1:8015/click"), DefaultClassifier, c0 + ".click_url"},
		{"view_url null", cr("view_url", nil), DefaultClassifier, c0 + ".view_url"},
		{"view_url space", cr("view_url", "http://127.0.0.1:8015/vi ew"), DefaultClassifier, c0 + ".view_url"},
		{"checksum set", cr("checksum", "da39a3ee5e6b4b0d3255bfef95601890afd80709"), DefaultClassifier, c0 + ".checksum"},
		{"classification missing", cr("classification", del), DefaultClassifier, c0 + ".classification"},
		{"classifier entry missing", cr("classification", map[string]any{}), DefaultClassifier, c0 + ".classification"},
		{"classifier entry string", cr("classification", map[string]any{DefaultClassifier: "x"}), DefaultClassifier, c0 + ".classification." + DefaultClassifier},
		{"signed_at missing", cls("signed_at", del), DefaultClassifier, c0 + ".classification." + DefaultClassifier + ".signed_at"},
		{"signed_at bad", cls("signed_at", "2023-08-01"), DefaultClassifier, c0 + ".classification." + DefaultClassifier + ".signed_at"},
		{"keywords missing", cls("keywords", del), DefaultClassifier, c0 + ".classification." + DefaultClassifier + ".keywords"},
		{"keyword not list", cls("keywords", map[string]any{"quality": "high"}), DefaultClassifier, c0 + ".classification." + DefaultClassifier + ".keywords.quality"},
		{"keyword number", cls("keywords", map[string]any{"quality": []any{num("1")}}), DefaultClassifier, c0 + ".classification." + DefaultClassifier + ".keywords.quality"},
	}
	for _, tt := range tests {
		checkVerdict(t, tt.name, ValidateInventory(tt.body, tt.classifier), tt.wantPath)
	}
}

func TestValidateBidResponse(t *testing.T) {
	sent := []string{"1", "2"}
	entry := func(key string, val any) []byte { return mutate(t, "bid-response.json", set(key, val, 0)) }
	tests := []struct {
		name     string
		status   int
		body     []byte
		wantPath string
	}{
		{"spec example", 200, mutate(t, "bid-response.json", nil), ""},
		{"no bid", 200, []byte(`[]`), ""},
		{"extra fields ignored", 200, entry("price", num("1.5")), ""},
		{"both slots", 200, []byte(`[{"request_id":"1","ext_id":"a","serve_url":"http://x.example/1"},{"request_id":"2","ext_id":"b","serve_url":"http://x.example/2"}]`), ""},
		{"status 204", 204, []byte(`[]`), "-"},
		{"status 500", 500, mutate(t, "bid-response.json", nil), "-"},
		{"empty body", 200, nil, "-"},
		{"object", 200, []byte(`{"1":{"request_id":"1","ext_id":"a","serve_url":"http://x.example/1"}}`), "-"},
		{"truncated", 200, []byte(`[{"request_id":"1"`), "-"},
		{"element not object", 200, []byte(`["1"]`), "[0]"},
		{"request_id number", 200, entry("request_id", num("1")), "[0].request_id"},
		{"request_id null", 200, entry("request_id", nil), "[0].request_id"},
		{"request_id unknown", 200, entry("request_id", "3"), "[0].request_id"},
		{"ext_id missing", 200, entry("ext_id", del), "[0].ext_id"},
		{"ext_id empty", 200, entry("ext_id", ""), "[0].ext_id"},
		{"ext_id not url safe", 200, entry("ext_id", "a b/c"), "[0].ext_id"},
		{"serve_url missing", 200, entry("serve_url", del), "[0].serve_url"},
		{"serve_url relative", 200, entry("serve_url", "/ad.png"), "[0].serve_url"},
		{"serve_url data URI", 200, entry("serve_url", "data:image/png;base64,iVBORw0KGgo="), ""},
		{"serve_url data URI bad base64", 200, entry("serve_url", "data:image/png;base64,!!"), "[0].serve_url"},
		{"serve_url data URI without comma", 200, entry("serve_url", "data:image/png;base64"), "[0].serve_url"},
		{"duplicate request_id", 200, []byte(`[{"request_id":"1","ext_id":"a","serve_url":"http://x.example/1"},{"request_id":"1","ext_id":"b","serve_url":"http://x.example/2"}]`), "[1].request_id"},
		{"one bad of two", 200, []byte(`[{"request_id":"1","ext_id":"a","serve_url":"http://x.example/1"},{"request_id":"2","ext_id":null,"serve_url":"http://x.example/2"}]`), "[1].ext_id"},
	}
	for _, tt := range tests {
		checkVerdict(t, tt.name, ValidateBidResponse(tt.status, tt.body, sent), tt.wantPath)
	}
}

func TestValidatePaymentReports(t *testing.T) {
	rep := func(key string, val any) []byte { return mutate(t, "payment-reports.json", set(key, val, 0)) }
	rep1 := func(key string, val any) []byte { return mutate(t, "payment-reports.json", set(key, val, 1)) }
	tests := []struct {
		name     string
		status   int
		body     []byte
		wantPath string
	}{
		{"spec example", 200, mutate(t, "payment-reports.json", nil), ""},
		{"empty list", 200, []byte(`[]`), ""},
		{"processing with value", 200, rep1("value", num("5")), ""},
		{"error status", 200, rep1("status", "error"), ""},
		{"done value 0", 200, rep("value", num("0")), ""},
		{"no updated_at", 200, rep("updated_at", del), ""},
		{"18 byte id", 200, rep("id", strings.Repeat("9", 18)), ""},
		{"status 500", 500, []byte(`[]`), "-"},
		{"empty body", 200, nil, "-"},
		{"object", 200, []byte(`{}`), "-"},
		{"entry not object", 200, []byte(`[[]]`), "[0]"},
		{"id number", 200, rep("id", num("1678953600")), "[0].id"},
		{"id missing", 200, rep("id", del), "[0].id"},
		{"id too long", 200, rep("id", strings.Repeat("9", 19)), "[0].id"},
		{"id empty", 200, rep("id", ""), "[0].id"},
		{"id duplicate", 200, rep1("id", "1678953600"), "[1].id"},
		{"created_at missing", 200, rep("created_at", del), "[0].created_at"},
		{"created_at Z", 200, rep("created_at", "2023-03-17T16:04:33Z"), "[0].created_at"},
		{"created_at fraction", 200, rep("created_at", "2023-03-17T16:04:33.000+00:00"), "[0].created_at"},
		{"status missing", 200, rep("status", del), "[0].status"},
		{"status number", 200, rep("status", num("1")), "[0].status"},
		{"value missing", 200, rep("value", del), "[0].value"},
		{"done value null", 200, rep("value", nil), "[0].value"},
		{"value string", 200, rep("value", "100000000000"), "[0].value"},
		{"value float", 200, rep("value", num("1.0")), "[0].value"},
		{"value negative", 200, rep("value", num("-1")), "[0].value"},
		{"processing value string", 200, rep1("value", "x"), "[1].value"},
	}
	for _, tt := range tests {
		checkVerdict(t, tt.name, ValidatePaymentReports(tt.status, tt.body), tt.wantPath)
	}
}

func TestValidatePaymentDetails(t *testing.T) {
	det := func(key string, val any) []byte { return mutate(t, "payment-details.json", set(key, val, 1)) }
	tests := []struct {
		name     string
		body     []byte
		wantPath string
	}{
		{"spec example", mutate(t, "payment-details.json", nil), ""},
		{"last page", []byte(`[]`), ""},
		{"extra fields", det("event_type", "view"), ""},
		{"zero value", det("event_value", num("0")), ""},
		{"empty body", nil, "-"},
		{"object", []byte(`{"case_id":"8c4d43f6d4ee4ca89cb4907ac0a2e500","event_value":1}`), "-"},
		{"not json", []byte(`[{]`), "-"},
		{"entry not object", []byte(`[null]`), "[0]"},
		{"case_id missing", det("case_id", del), "[1].case_id"},
		{"case_id uppercase", det("case_id", "8C4D43F6D4EE4CA89CB4907AC0A2E500"), "[1].case_id"},
		{"case_id dashes", det("case_id", "8c4d43f6-d4ee-4ca8-9cb4-907ac0a2e500"), "[1].case_id"},
		{"case_id odd", det("case_id", "8c4d43f6d4ee4ca89cb4907ac0a2e50"), "[1].case_id"},
		{"case_id non-hex", det("case_id", "8c4d43f6d4ee4ca89cb4907ac0a2e5zz"), "[1].case_id"},
		{"event_value missing", det("event_value", del), "[1].event_value"},
		{"event_value string", det("event_value", "5"), "[1].event_value"},
		{"event_value float", det("event_value", num("5e10")), "[1].event_value"},
		{"event_value negative", det("event_value", num("-5")), "[1].event_value"},
	}
	for _, tt := range tests {
		checkVerdict(t, tt.name, ValidatePaymentDetails(tt.body), tt.wantPath)
	}
}

func TestFilterValidateURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8015/view", true},
		{"https://cdn.example.org/a.png?x=1&y=%20#f", true},
		{"http://[2001:db8::1]:80/x", true},
		{"http://user:pa$$@example.org/", true},
		{"mailto:ops@example.org", true},
		{"http://localhost", true},
		{"http://a-b.example", true},
		{"", false},
		{"example.org/x", false},
		{"//example.org/x", false},
		{"http://", false},
		{"http:///path", false},
		{"http://exa mple.org", false},
		{"http://example.org/\u00e9", false},
		{"http://-a.example", false},
		{"http://a-.example", false},
		{"http://a_b.example", false},
		{"http://" + strings.Repeat("a", 64) + ".example", false},
		{"http://[zz::1]/", false},
		{"http://example.org:70000/", false},
		{"http://example.org:8o/", false},
		{"foo:", false},
	}
	for _, tt := range tests {
		if err := filterValidateURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("filterValidateURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

func FuzzValidators(f *testing.F) {
	for _, file := range []string{"info.json", "inventory.json", "bid-response.json", "payment-reports.json", "payment-details.json"} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// None may panic; an accepted body must be valid JSON.
		errs := []error{
			ValidateInfo(body, bridgeAddr, bridgeURL),
			ValidateInventory(body, DefaultClassifier),
			ValidateBidResponse(200, body, []string{"0", "1"}),
			ValidatePaymentReports(200, body),
			ValidatePaymentDetails(body),
		}
		for i, err := range errs {
			if err == nil && !json.Valid(body) {
				t.Fatalf("validator %d accepted invalid JSON %q", i, body)
			}
		}
	})
}
