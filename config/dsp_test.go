package config

import (
	"strings"
	"testing"
	"time"
)

// dspProblems loads minimal plus one DSP entry (YAML flow mapping fields)
// and returns the problems found.
func dspProblems(t *testing.T, fields string) string {
	t.Helper()
	_, _, err := Load(writeFile(t, minimal+"dsps:\n  - {name: d, endpoint: \"http://127.0.0.1:1/\", "+fields+"}\n"))
	if err == nil {
		return ""
	}
	problems, ok := AsProblems(err)
	if !ok {
		t.Fatalf("err = %v, want *Problems", err)
	}
	return strings.Join(problems, "\n")
}

func TestDSPLimitsValidated(t *testing.T) {
	for _, tc := range []struct{ fields, want string }{
		{"max_bids_per_imp: 1", ""},
		{"max_bids_per_imp: 100", ""},
		{"max_bids_per_imp: 101", "dsps[0] (d): max_bids_per_imp 101 must be 1..100"},
		{"max_bids_per_imp: -1", "dsps[0] (d): max_bids_per_imp -1 must be 1..100"},
		{"timeout: 30ms, tmax_allowance: 20ms", ""},
		{"timeout: 29ms", "dsps[0] (d): timeout 29ms minus tmax_allowance 20ms leaves less than 10ms"},
		{"tmax_allowance: 795ms", "dsps[0] (d): timeout 800ms minus tmax_allowance 795ms leaves less than 10ms"},
		{"tmax_allowance: -1ms", "dsps[0] (d): tmax_allowance -1ms must not be negative"},
	} {
		got := dspProblems(t, tc.fields)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.fields, got, tc.want)
		}
	}
}

// breaker.failure_rate and breaker.window are defaults in auction.breaker
// that each DSP may override, down to 0 (off) against a default.
func TestBreakerRateInheritsAndOverrides(t *testing.T) {
	body := minimal + `auction:
  breaker: {failure_rate: 0.5, window: 10}
dsps:
  - {name: a, endpoint: "http://127.0.0.1:1/"}
  - {name: b, endpoint: "http://127.0.0.1:2/", breaker: {failure_rate: 0}}
  - {name: c, endpoint: "http://127.0.0.1:3/", breaker: {window: 40}}
`
	cfg, _, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.DSPs[0].Breaker.Rate(), cfg.DSPs[0].Breaker.Window, cfg.DSPs[1].Breaker.Rate(), cfg.DSPs[2].Breaker.Rate(), cfg.DSPs[2].Breaker.Window}
	want := []any{0.5, 10, 0.0, 0.5, 40}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rates and windows %v, want %v", got, want)
		}
	}
	plain, _, _ := Load(writeFile(t, minimal+"dsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\"}\n"))
	if b := plain.DSPs[0].Breaker; b.Rate() != 0 || b.Window != 20 || b.Failures != 5 {
		t.Fatalf("default breaker %+v: the failure rate is off by default, consecutive failures stay 5", b)
	}
	for _, tc := range []struct{ fields, want string }{
		{"breaker: {failure_rate: 1.5}", "dsps[0] (d): breaker failure_rate 1.5 must be 0..1"},
		{"breaker: {failure_rate: -0.1}", "dsps[0] (d): breaker failure_rate -0.1 must be 0..1"},
		{"breaker: {failure_rate: 0.5, window: 1}", "dsps[0] (d): breaker window 1 must be 2..1000 calls"},
		{"breaker: {failure_rate: 0.5, window: 1001}", "dsps[0] (d): breaker window 1001 must be 2..1000 calls"},
		{"breaker: {failure_rate: 1.5, enabled: false}", ""},
		{"breaker: {failure_rate: 1, window: 2}", ""},
	} {
		got := dspProblems(t, tc.fields)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want %q", tc.fields, got, tc.want)
		}
	}
	_, _, err = Load(writeFile(t, minimal+"auction:\n  breaker: {failure_rate: 2}\n"))
	if problems, _ := AsProblems(err); !strings.Contains(strings.Join(problems, "\n"), "auction.breaker: failure_rate 2 must be 0..1") {
		t.Fatalf("auction.breaker.failure_rate 2: %v", err)
	}
}

// dsps[].headers that net/http would refuse, or that would break the
// request, are found by config check rather than by every bid request
// failing.
func TestDSPHeadersValidated(t *testing.T) {
	for _, tc := range []struct{ fields, want string }{
		{`headers: {X-Api-Key: "k1", Authorization: "Bearer x", Content-Type: "application/json; charset=utf-8", User-Agent: "bridge"}`, ""},
		{`headers: {X-Api-Key: "a\r\nX-Evil: 1"}`, "headers: the value of X-Api-Key has a control character"},
		{`headers: {X-Api-Key: "a\u0000"}`, "headers: the value of X-Api-Key has a control character"},
		{`headers: {X-Api-Key: "tab\tis fine"}`, ""},
		{`headers: {"X Api": "v"}`, `headers: "x api" is not a valid header name`}, // viper folds YAML keys
		{`headers: {"X-Api:": "v"}`, `headers: "x-api:" is not a valid header name`},
		{`headers: {"": "v"}`, `headers: "" is not a valid header name`},
		{`headers: {"Zażółć": "v"}`, `is not a valid header name`},
		{`headers: {Host: "dsp.example"}`, "headers: Host cannot be set: net/http takes the host from the endpoint"},
		{`headers: {content-length: "10"}`, "headers: Content-Length cannot be set"},
		{`headers: {Content-Encoding: "gzip"}`, "headers: Content-Encoding cannot be set: set from dsps[].gzip"},
		{`headers: {Connection: "close"}`, "headers: Connection cannot be set: hop-by-hop"},
		{`headers: {Transfer-Encoding: "chunked"}`, "headers: Transfer-Encoding cannot be set"},
		{`headers: {X-OpenRTB-Version: "2.5"}`, "headers: X-Openrtb-Version cannot be set: set from dsps[].dialect"},
		{`headers: {Expect: "100-continue"}`, "headers: Expect cannot be set"},
	} {
		got := dspProblems(t, tc.fields)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) || got != "" && !strings.HasPrefix(got, "dsps[0] (d): headers: ") {
			t.Errorf("%s: problems %q, want %q", tc.fields, got, tc.want)
		}
	}
	// The same header twice in different case can only come from an env
	// document (YAML keys are folded); which one net/http sends would be
	// chance.
	if p := checkHeaders(map[string]string{"X-Api-Key": "a", "x-api-key": "b"}); len(p) != 1 || !strings.Contains(p[0], `"X-Api-Key" and "x-api-key" are the same header`) {
		t.Fatalf("duplicate header: %v", p)
	}
}

// allow_public_listen opens the AdServer-facing port only: metrics and
// pprof need their own metrics.allow_public.
func TestMetricsPortHasItsOwnPublicSwitch(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		ok   bool
	}{
		{"metrics: {listen: \"127.0.0.1:9015\"}\n", true},
		{"metrics: {listen: \"0.0.0.0:9015\"}\n", false},
		{"listen: \"0.0.0.0:8015\"\nbase_url: \"http://127.0.0.1:8015\"\nallow_public_listen: true\nmetrics: {listen: \"0.0.0.0:9015\"}\n", false},
		{"metrics: {listen: \"0.0.0.0:9015\", allow_public: true}\n", true},
		{"metrics: {listen: \"\"}\n", true},
	} {
		_, _, err := Load(writeFile(t, minimal+tc.yaml))
		problems, _ := AsProblems(err)
		joined := strings.Join(problems, "\n")
		if tc.ok != (err == nil) || !tc.ok && !strings.Contains(joined, "metrics.listen: \"0.0.0.0:9015\" is not a loopback address; metrics") ||
			!tc.ok && !strings.Contains(joined, "metrics.allow_public: true") {
			t.Errorf("%s: %v", tc.yaml, err)
		}
	}
}

// A typo inside a list entry is reported like one at the top level, with
// its path, from the file and from an env document alike.
func TestUnknownKeysInListEntriesWarn(t *testing.T) {
	body := minimal + `dsps:
  - {name: a, endpoint: "http://127.0.0.1:1/"}
  - {name: b, endpoint: "http://127.0.0.1:2/", timout: 1s, breaker: {failurs: 2}, headers: {X-Anything: "free"}}
inventory:
  campaigns:
    - id: 5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50
      budgte: 5
      creatives:
        - {type: image, mime: image/png, size: 300x250, sise: 1}
`
	_, warnings, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatalf("unknown keys must not be errors: %v", err)
	}
	want := []string{
		`unknown key "dsps[1].breaker.failurs" is ignored`,
		`unknown key "dsps[1].timout" is ignored`,
		`unknown key "inventory.campaigns[0].budgte" is ignored`,
		`unknown key "inventory.campaigns[0].creatives[0].sise" is ignored`,
	}
	if strings.Join(warnings, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	t.Setenv("BRIDGE_DSPS", `[{"name":"e","endpoint":"http://127.0.0.1:1/","Timeout":"300ms","tmeout":"1s"}]`)
	cfg, warnings, err := Load(writeFile(t, minimal))
	if err != nil || len(warnings) != 1 || warnings[0] != `unknown key "dsps[0].tmeout" is ignored` || cfg.DSPs[0].Timeout != 300*time.Millisecond {
		t.Fatalf("env document: %v, %v", warnings, err)
	}
}

// A value of the wrong type no longer hides the other problems of the
// file: every one is listed, and a bad value is not reported twice.
func TestWrongTypeDoesNotHideOtherProblems(t *testing.T) {
	body := minimal + `auction:
  tmax: "abc"
  max_concurrent: [1]
log:
  level: loud
dsps:
  - {name: ok, endpoint: "http://127.0.0.1:1/", timeout: soon}
  - {name: "Bad Name", endpoint: "ftp://x"}
`
	_, _, err := Load(writeFile(t, body))
	problems, ok := AsProblems(err)
	if !ok {
		t.Fatalf("err = %v, want *Problems", err)
	}
	joined := strings.Join(problems, "\n")
	for _, w := range []string{
		`auction.tmax: cannot read "abc": time: invalid duration`,
		`auction.max_concurrent: cannot read "[1]"`,
		`dsps[0].timeout: time: invalid duration`,
		`log.level: "loud" is not one of`,
		`dsps[1] (Bad Name): name "Bad Name"`,
		`dsps[1] (Bad Name): endpoint "ftp://x"`,
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("problems lack %q:\n%s", w, joined)
		}
	}
	// The failed values stand in at their defaults: no second problem
	// about them (tmax 0s, max_concurrent 0, timeouts over tmax 0s).
	for _, bad := range []string{"auction.tmax: 0s", "auction.max_concurrent: must", "at most auction.tmax (0s)"} {
		if strings.Contains(joined, bad) {
			t.Errorf("problems repeat a bad value (%q):\n%s", bad, joined)
		}
	}
	if len(problems) != 6 {
		t.Errorf("%d problems, want 6:\n%s", len(problems), joined)
	}
	// A broken env document is one problem, without its text (it may hold
	// header secrets), next to the file's others.
	t.Setenv("BRIDGE_DSPS", `[{"name":"e","headers":{"X-Api-Key":"secret"`)
	_, _, err = Load(writeFile(t, minimal+"log:\n  level: loud\n"))
	problems, _ = AsProblems(err)
	joined = strings.Join(problems, "\n")
	if len(problems) != 2 || !strings.Contains(joined, "dsps: not a JSON or YAML document") || strings.Contains(joined, "secret") {
		t.Fatalf("problems:\n%s", joined)
	}
}

// Found by FuzzEnvDocument (testdata/fuzz/FuzzEnvDocument/8f17eb2d5bbe43e2):
// a document variable holding no document (blank, a comment, null) made
// mapstructure panic, so `bridge serve` crashed at start. It means empty.
func TestEmptyEnvDocumentIsEmpty(t *testing.T) {
	for _, doc := range []string{"   ", "# just a comment", "---", "~", "null"} {
		for _, key := range []string{"dsps", "inventory.campaigns", "inventory.keywords", "money.rates"} {
			t.Setenv(EnvName(key), doc)
		}
		cfg, _, err := Load(writeFile(t, minimal))
		if err != nil || len(cfg.DSPs) != 0 || len(cfg.Inventory.Campaigns) != 0 || len(cfg.Money.Rates) != 0 {
			t.Errorf("documents %q: %v, %+v", doc, err, cfg)
		}
	}
}
