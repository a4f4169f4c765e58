package bench

import (
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	ok := Options{Exe: "/bin/bridge"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if ok.DSPs != 1 || ok.MinSlots != 1 || ok.MaxSlots != 1 || ok.Concurrency != 16 || ok.Rounds != 3 || ok.TMax != time.Second || ok.Mode != ModeAuction {
		t.Fatalf("defaults %+v", ok)
	}
	if ok.dspTimeout() != 800*time.Millisecond {
		t.Fatalf("DSP timeout %s, want the bridge's default 800ms for tmax 1s", ok.dspTimeout())
	}
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "binary"},
		{Options{Exe: "x", DSPs: 33}, "--dsps"},
		{Options{Exe: "x", MinSlots: 3, MaxSlots: 2}, "--slots"},
		{Options{Exe: "x", MinSlots: 1, MaxSlots: MaxSlots + 1}, "--slots"},
		{Options{Exe: "x", Concurrency: -1}, "--concurrency"},
		{Options{Exe: "x", Rate: -5}, "--rate"},
		{Options{Exe: "x", Duration: time.Second, Rounds: 20}, "--duration"},
		{Options{Exe: "x", Mode: "fast"}, "--mode"},
		{Options{Exe: "x", ViewFraction: 1.5}, "--view-fraction"},
		{Options{Exe: "x", TMax: time.Minute}, "--tmax"},
		{Options{Exe: "x", DSPLatency: -time.Second}, "--dsp-latency"},
	} {
		err := tc.o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one about %s", tc.o, err, tc.want)
		}
	}
	// Every problem at once.
	bad := Options{Exe: "x", DSPs: 40, Mode: "fast"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "--dsps") || !strings.Contains(err.Error(), "--mode") {
		t.Fatalf("want both problems, got %v", err)
	}
}

func TestSystemsByMode(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Mode: ModeAuction, Floor: true}, "bridge floor direct"},
		{Options{Mode: ModeMixed, Floor: true}, "bridge floor direct"},
		{Options{Mode: ModeViews, Floor: true}, "bridge floor"},
		{Options{Mode: ModeAuction}, "bridge"},
	} {
		var got []string
		for _, s := range tc.o.systems() {
			got = append(got, string(s))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s floor=%t: %v, want %s", tc.o.Mode, tc.o.Floor, got, tc.want)
		}
	}
}

func TestConfigAllowsTheLoopbackDSPs(t *testing.T) {
	yaml := bridgeConfigYAML(configParams{listen: "127.0.0.1:1", metrics: "127.0.0.1:2", tmax: time.Second, dspTimeout: 800 * time.Millisecond,
		dsps: []dspEntry{{name: "dsp1", endpoint: "http://127.0.0.1:3/openrtb2/auction"}}})
	if !strings.Contains(yaml, `allow_networks: ["127.0.0.0/8"]`) {
		t.Fatalf("the loopback DSP is not allowed, its burls would be refused:\n%s", yaml)
	}
}
