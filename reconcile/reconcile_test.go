package reconcile

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func TestParseReport(t *testing.T) {
	in := "\ufeffDate;Impressions;Revenue (USD);Campaign\n" +
		"05/02/2024;40;0.06;a\n" +
		"05/01/2024;3;0.006;a\n" +
		"05/02/2024;1;0.0015;b\n" +
		"\n"
	days, err := ParseReport(strings.NewReader(in), Columns{Day: "date", Impressions: "IMPRESSIONS", Spend: "revenue (usd)",
		DayLayout: "01/02/2006", Comma: ';'})
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].Day != "2024-05-01" || days[0].Impressions != 3 || days[0].Spend.Cmp(rat("0.006")) != 0 ||
		days[1].Day != "2024-05-02" || days[1].Impressions != 41 || days[1].Spend.Cmp(rat("0.0615")) != 0 {
		t.Fatalf("days = %+v", days)
	}
}

func TestParseReportRefusesWhatItCannotReadExactly(t *testing.T) {
	tests := []struct{ name, csv, want string }{
		{"no header", "", "no header"},
		{"missing column", "day,impressions\n2024-05-01,1\n", `no column "spend"`},
		{"bad day", "day,impressions,spend\n1 May,1,1\n", `line 2: day "1 May"`},
		{"fractional impressions", "day,impressions,spend\n2024-05-01,1.5,1\n", "not a whole number"},
		{"thousands separator", "day,impressions,spend\n2024-05-01,1000,\"1,234.50\"\n", "not a plain decimal"},
		{"currency sign", "day,impressions,spend\n2024-05-01,1,$5\n", "not a plain decimal"},
		{"float exponent", "day,impressions,spend\n2024-05-01,1,1e3\n", "not a plain decimal"},
		{"negative", "day,impressions,spend\n2024-05-01,-1,1\n", "not a whole number"},
		{"short row", "day,impressions,spend\n2024-05-01,1\n", "line 2 has 2 fields"},
		{"total row", "day,impressions,spend\n2024-05-01,1,1\nTotal,1,1\n", `line 3: day "Total"`},
	}
	for _, tt := range tests {
		_, err := ParseReport(strings.NewReader(tt.csv), DefaultColumns)
		if !errors.Is(err, ErrReport) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add("day,impressions,spend\n2024-05-01,3,0.006\n")
	f.Add("day,impressions,spend\n2024-05-01,999999999999999999,999999999999999999999999999999.1\n2024-05-01,9,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		days, err := ParseReport(strings.NewReader(in), DefaultColumns)
		if err != nil {
			return
		}
		for i, d := range days {
			if d.Impressions < 0 || d.Spend.Sign() < 0 || (i > 0 && days[i-1].Day >= d.Day) {
				t.Fatalf("days = %+v", days)
			}
		}
	})
}

func TestCompare(t *testing.T) {
	bridge := []Billed{
		{Day: "2024-05-01", Views: 3, Spend: rat("0.006"), Currency: "USD"},
		{Day: "2024-05-02", Views: 40, Spend: rat("0.06"), Currency: "USD"},
		{Day: "2024-05-03", Views: 10, Spend: rat("0.03"), Currency: "USD"},
		{Day: "2024-05-04", Views: 1, Spend: rat("0.001"), Currency: "USD"}, // the DSP does not know it
	}
	dsp := []Day{
		{Day: "2024-05-01", Impressions: 3, Spend: rat("0.006")},
		{Day: "2024-05-02", Impressions: 41, Spend: rat("0.0615")},
		{Day: "2024-05-03", Impressions: 12, Spend: rat("0.036")},
		{Day: "2024-05-05", Impressions: 0, Spend: rat("0")},
	}
	res := Compare(bridge, dsp, rat("5"))
	want := []struct {
		day              string
		beyond           bool
		impsPct, spendPc string
	}{
		{"2024-05-01", false, "0.00", "0.00"},
		{"2024-05-02", false, "-2.44", "-2.44"},
		{"2024-05-03", true, "-16.67", "-16.67"},
		{"2024-05-04", true, "+inf", "+inf"},
		{"2024-05-05", false, "0.00", "0.00"},
	}
	if len(res.Lines) != len(want) || res.Beyond != 2 {
		t.Fatalf("lines = %+v, beyond %d", res.Lines, res.Beyond)
	}
	for i, w := range want {
		l := res.Lines[i]
		ip, iok := l.ImpressionsPercent()
		sp, sok := l.SpendPercent()
		if l.Day != w.day || l.Beyond != w.beyond || FormatPercent(ip, iok) != w.impsPct || FormatPercent(sp, sok) != w.spendPc {
			t.Errorf("line %d = %+v (%s, %s), want %+v", i, l, FormatPercent(ip, iok), FormatPercent(sp, sok), w)
		}
	}
	if tot := res.Total; tot.BridgeViews != 54 || tot.DSPImpressions != 56 || tot.BridgeSpend.Cmp(rat("0.097")) != 0 || tot.Currency != "USD" {
		t.Errorf("total = %+v", tot)
	}
	// Exactly at the tolerance is within it; a hair over is not.
	edge := Compare([]Billed{{Day: "d", Views: 105, Spend: rat("1.05")}}, []Day{{Day: "d", Impressions: 100, Spend: rat("1")}}, rat("5"))
	over := Compare([]Billed{{Day: "d", Views: 100, Spend: rat("1.050000001")}}, []Day{{Day: "d", Impressions: 100, Spend: rat("1")}}, rat("5"))
	if edge.Beyond != 0 || over.Beyond != 1 {
		t.Errorf("edge %+v, over %+v", edge.Lines, over.Lines)
	}
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]string{"5%": "5", "5": "5", "2.5 %": "5/2", "0": "0", " 10% ": "10"} {
		if r, err := ParseTolerance(in); err != nil || r.RatString() != want {
			t.Errorf("ParseTolerance(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, in := range []string{"", "-5%", "five", "5%%", "150%", "0.05.1"} {
		if _, err := ParseTolerance(in); err == nil {
			t.Errorf("ParseTolerance(%q) accepted", in)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for in, want := range map[string]string{"0.006": "0.006", "12.5": "12.50", "0": "0.00", "-0.0005": "-0.0005", "1/3": "0.333333333333"} {
		if got := FormatAmount(rat(in)); got != want {
			t.Errorf("FormatAmount(%s) = %q, want %q", in, got, want)
		}
	}
}
