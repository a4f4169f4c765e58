package demo

import (
	"bytes"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/rates"
)

// consistent is a small summary that adds up: two wins of one DSP at
// 1.37 and 2.00 USD CPM, one viewed, at 0.05 USD per ADS.
func consistent() *Summary {
	rate := int64(50_000_000)
	v := ads.ViewValue(1_370_000, rate) // 2 740 000 000 clicks
	return &Summary{
		RateNanos: rate, BridgeRate: rates.Status{Rate: rates.Rate{Nanos: rate, Source: rates.SourceFeed}, State: rates.StateFresh},
		RateFetches: 3, Registered: true, Campaigns: 1, Creatives: 1, BidCalls: 1, Slots: 2, Filled: 2,
		Served: 2, Views: 1, NotViewed: 1, ExpectedValue: v, ReportedValue: v, Credited: v,
		Wins: []WinRecord{
			{ExtID: "a", DSP: "x", BidMicros: 1_370_000, ServeMicros: 1_370_000, Served: true, Viewed: true, Fate: FateViewed, CaseID: "c1"},
			{ExtID: "b", DSP: "x", BidMicros: 2_000_000, ServeMicros: 2_000_000, Served: true, Fate: FateNotViewed},
		},
		DSPs:    []DSPSummary{{Name: "x", Wins: 2, Served: 2, Views: 1, Bills: 1, Delivered: 1, OwedClicks: v, Breaker: "closed"}},
		Reports: []ReportSummary{{ID: "1700000000", Value: v, Details: 1, DetailsSum: v, Credited: v}},
	}
}

func TestCheck(t *testing.T) {
	if p := consistent().Check(); len(p) != 0 {
		t.Fatalf("a consistent summary has problems: %v", p)
	}
	tests := []struct {
		name   string
		break_ func(s *Summary)
		want   string
	}{
		{"not registered", func(s *Summary) { s.Registered = false }, "did not register"},
		{"stale rate", func(s *Summary) { s.BridgeRate.Source = rates.SourceConfig }, "the rate feed says"},
		{"other rate", func(s *Summary) { s.BridgeRate.Nanos++ }, "the rate feed says"},
		{"rejected bid answer", func(s *Summary) { s.BidErrors = []string{"bad"} }, "failed the AdServer's validation"},
		{"lost win", func(s *Summary) { s.Filled = 3 }, "wins 3 != views"},
		{"view failed", func(s *Summary) { s.Wins[1].Fate = FateViewFailed; s.NotViewed, s.ViewFailed = 0, 1 }, "view calls failed"},
		{"second price", func(s *Summary) { s.Wins[0].ServeMicros = 1_000_000 }, "not the DSP's bid"},
		{"burl missing", func(s *Summary) { s.DSPs[0].Bills = 0 }, "burl notices received"},
		{"nurl missing", func(s *Summary) { s.DSPs[0].Served = 1 }, "nurl hits"},
		{"notice not delivered", func(s *Summary) { s.DSPs[0].Delivered = 0 }, "delivered 0 notices"},
		{"bridge owes wrong amount", func(s *Summary) { s.DSPs[0].OwedClicks++ }, "says it owes"},
		{"report value off", func(s *Summary) { s.ReportedValue-- }, "reports are worth"},
		{"details do not add up", func(s *Summary) { s.Reports[0].DetailsSum++ }, "details add up to"},
		{"under-credited", func(s *Summary) { s.Reports[0].Credited-- }, "credited"},
		{"unknown case", func(s *Summary) { s.Reports[0].Unknown = 1 }, "never recorded"},
		{"missing detail", func(s *Summary) { s.Reports[0].Details = 0 }, "payment details for 1 views"},
		{"nothing billed", func(s *Summary) { s.Views = 0 }, "no views"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := consistent()
			tc.break_(s)
			p := s.Check()
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Errorf("problems %q do not mention %q", p, tc.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	consistent().WriteTable(&b)
	for _, want := range []string{"2740000000", "0.0274", "OK:", "1700000000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	var bad bytes.Buffer
	s := consistent()
	s.ReportedValue = 0
	s.WriteTable(&bad)
	if !strings.Contains(bad.String(), "PROBLEMS:") {
		t.Errorf("an inconsistent summary is not flagged:\n%s", bad.String())
	}
}

func TestFormatMicros(t *testing.T) {
	for in, want := range map[int64]string{1_370_000: "1.37", 2_000_000: "2.00", 400_000: "0.40", 1_234_567: "1.234567"} {
		if got := formatMicros(in); got != want {
			t.Errorf("formatMicros(%d) = %q, want %q", in, got, want)
		}
	}
}
