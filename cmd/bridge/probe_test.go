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

	"github.com/prebid/openrtb/v20/openrtb2"

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
	markup, err := dspsim.Start(dspsim.Options{Creative: dspsim.CreativeImage})
	if err != nil {
		t.Fatal(err)
	}
	defer markup.Close()
	script, err := dspsim.Start(dspsim.Options{Respond: func(r *openrtb2.BidRequest) (int, []byte) {
		return 200, []byte(`{"id":"` + r.ID + `","seatbid":[{"bid":[{"id":"s1","impid":"` + r.Imp[0].ID +
			`","price":1,"adm":"<div><script src=\"https://cdn.example/ad.js\"></script></div>"}]}]}`)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer script.Close()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	os.WriteFile(p, []byte(fmt.Sprintf(`adshares: {address: 0001-00000003-AB0C}
money: {ads_usd: "0.05"}
auction: {tmax: 500ms}
dsps:
  - {name: fast, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8], qps: 100, only: {types: [image]}, blocking: {presets: [mopub]}, require: [crid]}
  - {name: slow, endpoint: %q, timeout: 100ms, allow_networks: [127.0.0.0/8]}
  - {name: broken, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8]}
  - {name: markup, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8]}
  - {name: script, endpoint: %q, timeout: 300ms, allow_networks: [127.0.0.0/8]}
`, fast.Endpoint(), slow.Endpoint(), broken.Endpoint(), markup.Endpoint(), script.Endpoint())), 0o600)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"dsp", "probe", "--config", p, "--requests", "3"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a DSP too slow); stderr %s", code, errb.String())
	}
	verdict, creative := map[string]string{}, map[string]string{}
	latency, rules, found := strings.Cut(out.String(), "Supply rules per DSP:")
	if !found {
		t.Fatalf("no supply rules table:\n%s", out.String())
	}
	for _, line := range strings.Split(latency, "\n") {
		f := strings.Fields(line)
		if len(f) < 14 || !strings.Contains("fast slow broken markup script", f[0]) {
			continue
		}
		// ... VERDICT (1 or 2 words) PATH CREATIVE ("-" or "what n/m")
		tail := 3
		if f[len(f)-1] == "-" {
			tail = 2
		}
		verdict[f[0]] = strings.Join(f[11:len(f)-tail], " ")
		creative[f[0]] = strings.Join(f[len(f)-tail:], " ")
		if f[0] == "fast" && (f[2] != "3" || f[5] != "3") {
			t.Errorf("fast: ok %s bids %s, want 3 and 3", f[2], f[5])
		}
	}
	want := map[string]string{"fast": "ok", "slow": "too slow", "broken": "failing", "markup": "ok", "script": "ok"}
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
	// Which path each DSP's test bids took and whether the creative
	// resolved: the simulator's nurl answers a 1x1 pixel (a blank 300x250
	// slot), its image markup resolves, a script is unrenderable.
	wantCreative := map[string]string{"fast": "nurl creative_mismatch 3/3", "markup": "markup_image ok 3/3",
		"script": "markup unrenderable_markup 3/3", "broken": "- -"}
	for k, v := range wantCreative {
		if creative[k] != v {
			t.Errorf("%s path/creative %q, want %q\n%s", k, creative[k], v, out.String())
		}
	}
	if !strings.Contains(out.String(), "fast: creative creative_mismatch: the image is 1x1, the slot 300x250") {
		t.Errorf("no detail line for fast's creative:\n%s", out.String())
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
	probed := func(rs []auction.DSPResult) []auction.ProbeResult {
		out := make([]auction.ProbeResult, len(rs))
		for i, r := range rs {
			out[i].DSPResult = r
		}
		return out
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
			if got := summarize(d, probed(tc.rs), tc.budget).verdict; got != tc.want {
				t.Fatalf("verdict %q, want %q", got, tc.want)
			}
		})
	}
}
