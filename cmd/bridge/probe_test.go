package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/dspsim"
)

func TestProbeAgainstSimulatedDSPs(t *testing.T) {
	fast, err := dspsim.Start(dspsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	slow, err := dspsim.Start(dspsim.Options{Latency: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	broken, err := dspsim.Start(dspsim.Options{Mode: dspsim.Mode5xx})
	if err != nil {
		t.Fatal(err)
	}
	defer broken.Close()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf(`adshares: {address: 0001-00000003-AB0C}
money: {ads_usd: "0.05"}
auction: {tmax: 500ms}
dsps:
  - {name: fast, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8], qps: 100, only: {types: [image]}, blocking: {presets: [mopub]}, require: [crid]}
  - {name: slow, endpoint: %q, timeout: 100ms, allow_networks: [127.0.0.0/8]}
  - {name: broken, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8]}
`, fast.Endpoint(), slow.Endpoint(), broken.Endpoint())), 0o600)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"dsp", "probe", "--config", p, "--requests", "3"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a DSP too slow); stderr %s", code, errb.String())
	}
	verdict := map[string]string{}
	latency, rules, found := strings.Cut(out.String(), "Supply rules per DSP:")
	if !found {
		t.Fatalf("no supply rules table:\n%s", out.String())
	}
	for _, line := range strings.Split(latency, "\n") {
		f := strings.Fields(line)
		if len(f) >= 12 && (f[0] == "fast" || f[0] == "slow" || f[0] == "broken") {
			verdict[f[0]] = strings.Join(f[11:], " ")
			if f[0] == "fast" && (f[2] != "3" || f[5] != "3") {
				t.Errorf("fast: ok %s bids %s, want 3 and 3", f[2], f[5])
			}
		}
	}
	want := map[string]string{"fast": "ok", "slow": "too slow", "broken": "failing"}
	for k, v := range want {
		if verdict[k] != v {
			t.Errorf("%s verdict %q, want %q\n%s", k, verdict[k], v, out.String())
		}
	}
	// The rules table says what applies to each DSP.
	for _, want := range []string{
		"fast    2.6      100  types image  presets mopub; bcat IAB25,IAB26,IAB7-39,IAB8-18,IAB8-5,IAB9-9  crid     -     reject    -",
		"slow    2.6      -    -            -",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules table lacks %q:\n%s", want, rules)
		}
	}
	// Every probe is an OpenRTB test request.
	for _, r := range fast.Requests() {
		if !bytes.Contains(r.Body, []byte(`"test":1`)) {
			t.Fatalf("probe request without test=1: %s", r.Body)
		}
	}
}

func TestProbeVerdicts(t *testing.T) {
	d := auction.DSPTimeout{Name: "d", Timeout: 100 * time.Millisecond}
	ok := func(ms int) auction.DSPResult {
		return auction.DSPResult{Outcome: auction.OutcomeNoBid, Latency: time.Duration(ms) * time.Millisecond}
	}
	cases := []struct {
		name   string
		rs     []auction.DSPResult
		budget time.Duration
		want   string
	}{
		{"fast", []auction.DSPResult{ok(10), ok(20), ok(30)}, time.Second, "ok"},
		{"close to its timeout", []auction.DSPResult{ok(10), ok(85)}, time.Second, "close"},
		{"over its timeout", []auction.DSPResult{ok(10), ok(101)}, time.Second, "too slow"},
		{"over the auction budget", []auction.DSPResult{ok(10), ok(60)}, 50 * time.Millisecond, "too slow"},
		{"a timeout", []auction.DSPResult{ok(10), {Outcome: auction.OutcomeTimeout, Latency: 100 * time.Millisecond}}, time.Second, "too slow"},
		{"some errors", []auction.DSPResult{ok(10), ok(10), {Outcome: auction.OutcomeError, Err: "status 500"}}, time.Second, "close"},
		{"only errors", []auction.DSPResult{{Outcome: auction.OutcomeError, Err: "refused"}}, time.Second, "failing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(d, tc.rs, tc.budget).verdict; got != tc.want {
				t.Fatalf("verdict %q, want %q", got, tc.want)
			}
		})
	}
}
