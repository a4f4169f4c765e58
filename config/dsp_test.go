package config

import (
	"strings"
	"testing"
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
