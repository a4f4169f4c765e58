package reconcile

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
)

// Billed is one day of the bridge's books for the DSP.
type Billed struct {
	Day      string // YYYY-MM-DD
	Views    int64
	Spend    *big.Rat // in Currency, exact
	Currency string
}

// Line is one day (or the total) of both sides.
type Line struct {
	Day            string
	BridgeViews    int64
	DSPImpressions int64
	BridgeSpend    *big.Rat
	DSPSpend       *big.Rat
	Currency       string
	// Beyond is set when impressions or spend differ by more than the
	// tolerance (of the DSP's figure).
	Beyond bool
}

// ImpressionsDiff is the bridge's views minus the DSP's impressions.
func (l Line) ImpressionsDiff() int64 { return l.BridgeViews - l.DSPImpressions }

// SpendDiff is the bridge's spend minus the DSP's.
func (l Line) SpendDiff() *big.Rat { return new(big.Rat).Sub(l.BridgeSpend, l.DSPSpend) }

// ImpressionsPercent is ImpressionsDiff as a percentage of the DSP's
// impressions; ok is false when the DSP reports none but the bridge has
// some (an infinite difference).
func (l Line) ImpressionsPercent() (p *big.Rat, ok bool) {
	return Percent(big.NewRat(l.ImpressionsDiff(), 1), big.NewRat(l.DSPImpressions, 1))
}

// SpendPercent is SpendDiff as a percentage of the DSP's spend.
func (l Line) SpendPercent() (p *big.Rat, ok bool) { return Percent(l.SpendDiff(), l.DSPSpend) }

// Result is a whole comparison.
type Result struct {
	Lines     []Line
	Total     Line
	Beyond    int      // days beyond the tolerance
	Tolerance *big.Rat // percent
}

// Compare lines up the bridge's days with the DSP's, every day either side
// has, sorted. The DSP's figure is the base of each percentage: the
// question is whether its invoice matches the bridge's books.
func Compare(bridge []Billed, dsp []Day, tolerancePercent *big.Rat) Result {
	byDay := map[string]*Line{}
	line := func(day string) *Line {
		l := byDay[day]
		if l == nil {
			l = &Line{Day: day, BridgeSpend: new(big.Rat), DSPSpend: new(big.Rat)}
			byDay[day] = l
		}
		return l
	}
	for _, b := range bridge {
		l := line(b.Day)
		l.BridgeViews += b.Views
		l.BridgeSpend.Add(l.BridgeSpend, b.Spend)
		l.Currency = joinCurrency(l.Currency, b.Currency)
	}
	for _, d := range dsp {
		l := line(d.Day)
		l.DSPImpressions += d.Impressions
		l.DSPSpend.Add(l.DSPSpend, d.Spend)
	}
	res := Result{Tolerance: tolerancePercent, Total: Line{Day: "TOTAL", BridgeSpend: new(big.Rat), DSPSpend: new(big.Rat)}}
	for _, l := range byDay {
		res.Lines = append(res.Lines, *l)
	}
	slices.SortFunc(res.Lines, func(a, b Line) int { return strings.Compare(a.Day, b.Day) })
	t := &res.Total
	for i := range res.Lines {
		l := &res.Lines[i]
		l.Beyond = beyond(*l, tolerancePercent)
		if l.Beyond {
			res.Beyond++
		}
		t.BridgeViews += l.BridgeViews
		t.DSPImpressions += l.DSPImpressions
		t.BridgeSpend.Add(t.BridgeSpend, l.BridgeSpend)
		t.DSPSpend.Add(t.DSPSpend, l.DSPSpend)
		t.Currency = joinCurrency(t.Currency, l.Currency)
	}
	t.Beyond = beyond(*t, tolerancePercent)
	return res
}

// joinCurrency adds the currencies in b ("EUR" or "EUR,USD") to a.
func joinCurrency(a, b string) string {
	set := map[string]bool{}
	var out []string
	for _, c := range strings.Split(a+","+b, ",") {
		if c != "" && !set[c] {
			set[c] = true
			out = append(out, c)
		}
	}
	return strings.Join(out, ",")
}

// beyond: |diff| > tolerance% of the DSP's figure, for impressions or spend.
func beyond(l Line, tol *big.Rat) bool {
	over := func(diff, base *big.Rat) bool {
		d := new(big.Rat).Abs(diff)
		limit := new(big.Rat).Mul(new(big.Rat).Abs(base), tol)
		limit.Quo(limit, big.NewRat(100, 1))
		return d.Cmp(limit) > 0
	}
	return over(big.NewRat(l.ImpressionsDiff(), 1), big.NewRat(l.DSPImpressions, 1)) || over(l.SpendDiff(), l.DSPSpend)
}

// Percent is diff / base × 100; ok is false when base is 0 and diff is not.
func Percent(diff, base *big.Rat) (*big.Rat, bool) {
	if base.Sign() == 0 {
		return new(big.Rat), diff.Sign() == 0
	}
	p := new(big.Rat).Quo(diff, base)
	return p.Mul(p, big.NewRat(100, 1)), true
}

// FormatPercent writes a percentage with a sign and two decimals, rounded
// half away from zero for display only ("+1.23", "-100.00", "0.00"), or
// "+inf"/"-inf" when the base was 0.
func FormatPercent(p *big.Rat, ok bool) string {
	if !ok {
		return "+inf"
	}
	s := p.FloatString(2) // exact rounding of the rational, no float
	if p.Sign() > 0 {
		return "+" + s
	}
	if s == "-0.00" {
		return "0.00"
	}
	return s
}

// FormatAmount writes an exact amount: every decimal it has, at least two
// ("12.50", "0.001234567"); an amount without a finite decimal expansion
// (never one built from decimals) is rounded to 12 places.
func FormatAmount(r *big.Rat) string {
	for places := 2; places <= 40; places++ {
		scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)))
		if scaled.IsInt() {
			return r.FloatString(places)
		}
	}
	return r.FloatString(12)
}

var toleranceRe = regexp.MustCompile(`^([0-9]{1,3}(\.[0-9]{1,6})?)\s*%?$`)

// ParseTolerance reads a tolerance in percent: "5%", "5", "2.5 %".
func ParseTolerance(s string) (*big.Rat, error) {
	m := toleranceRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil, fmt.Errorf("tolerance %q is not a percentage like 5%% or 2.5", s)
	}
	r, _ := new(big.Rat).SetString(m[1])
	if r.Cmp(big.NewRat(100, 1)) > 0 {
		return nil, errors.New("tolerance above 100%")
	}
	return r, nil
}
