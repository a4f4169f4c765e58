package table

import (
	"bytes"
	"testing"
)

func TestWrite(t *testing.T) {
	tb := New("DSP", "VIEWS")
	tb.Add("alpha", "1")
	tb.Add("b", "1234")
	tb.Footer = []string{"TOTAL", "1235"}
	tests := []struct{ format, want string }{
		{"table", "    DSP  VIEWS\n  alpha      1\n      b   1234\n  TOTAL   1235\n"},
		{"csv", "DSP,VIEWS\nalpha,1\nb,1234\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := tb.Write(&b, tt.format); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("%s:\n%q\nwant\n%q", tt.format, b.String(), tt.want)
		}
	}
	if err := tb.Write(&bytes.Buffer{}, "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}
