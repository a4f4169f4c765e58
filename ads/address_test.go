package ads

import "testing"

func TestValidateAddress(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"0001-00000003-AB0C", true},
		{"0001-00000005-CBCA", true},
		{"0001-00000003-AB0D", false},
		{"0001-00000003-ab0c", false}, // lowercase checksum: AdServer compares exactly
		{"0001-0000003-AB0C", false},
		{"", false},
		{"0001-00000003", false},
		{"zzzz-00000003-AB0C", false},
	}
	for _, tt := range tests {
		err := ValidateAddress(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateAddress(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestAddressChecksum(t *testing.T) {
	if got := AddressChecksum("0001", "00000003"); got != "AB0C" {
		t.Errorf("checksum(0001-00000003) = %s, want AB0C", got)
	}
	if got := AddressChecksum("0001", "00000005"); got != "CBCA" {
		t.Errorf("checksum(0001-00000005) = %s, want CBCA", got)
	}
}

func FuzzValidateAddress(f *testing.F) {
	f.Add("0001-00000003-AB0C")
	f.Add("ffff-ffffffff-0000")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateAddress(s) == nil && len(s) != 18 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
	})
}
