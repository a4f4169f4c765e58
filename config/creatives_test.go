package config

import (
	"strings"
	"testing"
)

// The public listener's rules, each problem reported (and all at once).
func TestPublicDeliveryConfig(t *testing.T) {
	tests := []struct {
		name, body string
		problems   []string // substrings, each in some problem; nil: valid
	}{
		{"inline by default needs nothing", "", nil},
		{"public with both", "public_url: https://ads.example.org\npublic_listen: 127.0.0.1:8443\ncreatives:\n  delivery: public\n", nil},
		{"public_listen without public_url", "public_listen: 127.0.0.1:8443\n", []string{"public_listen: set, but public_url is empty"}},
		{"http public_url", "public_url: http://ads.example.org\n", []string{"must be https"}},
		{"public without both", "creatives:\n  delivery: public\n", []string{"public needs both public_url and public_listen"}},
		{"public without listen, http url: both problems", "public_url: http://ads.example.org\ncreatives:\n  delivery: public\n",
			[]string{"must be https", "public needs both"}},
		{"public_listen on listen", "public_url: https://ads.example.org\npublic_listen: 127.0.0.1:8015\n", []string{"also listen or metrics.listen"}},
		{"unknown delivery", "creatives:\n  delivery: cdn\n", []string{`"cdn" is not inline, public or direct`}},
		{"unknown dsp creative", "dsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\", creative: html}\n", []string{`creative "html" is not auto, markup or nurl`}},
		{"tiny inline limit", "creatives:\n  inline_max_bytes: 10\n", []string{"creatives.inline_max_bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(writeFile(t, minimal+tt.body))
			problems, _ := AsProblems(err)
			if tt.problems == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			for _, want := range tt.problems {
				found := false
				for _, p := range problems {
					found = found || strings.Contains(p, want)
				}
				if !found {
					t.Errorf("no problem mentions %q; got %q", want, problems)
				}
			}
		})
	}
}

func TestDSPCreativeDefaultsToAuto(t *testing.T) {
	cfg, _, err := Load(writeFile(t, minimal+"dsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DSPs[0].Creative != CreativeAuto || cfg.DSPs[0].LossNotices {
		t.Fatalf("dsps[0] creative %q loss_notices %v, want auto and false", cfg.DSPs[0].Creative, cfg.DSPs[0].LossNotices)
	}
	if cfg.Creatives.Delivery != DeliveryInline || cfg.Creatives.InlineMaxBytes != 1<<20 {
		t.Fatalf("creatives defaults %+v", cfg.Creatives)
	}
}
