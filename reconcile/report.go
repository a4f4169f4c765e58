// Package reconcile compares a DSP's own daily report (a CSV of day,
// impressions and spend) with the bridge's billed views of the same days:
// both figures, their difference and its percentage, and whether it is
// beyond a tolerance. Money stays exact: spend is a decimal, parsed and
// compared as a rational, never a float.
package reconcile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Columns names the report's columns (matched case-insensitively, spaces
// trimmed) and how its days are written.
type Columns struct {
	Day, Impressions, Spend string
	// DayLayout is a Go time layout ("2006-01-02", "01/02/2006", ...).
	DayLayout string
	// Comma is the field separator (',' when 0).
	Comma rune
}

// DefaultColumns are the names a report is read with unless told otherwise.
var DefaultColumns = Columns{Day: "day", Impressions: "impressions", Spend: "spend", DayLayout: "2006-01-02", Comma: ','}

// Day is one day's figures; Spend is exact (its unit is the report's
// currency).
type Day struct {
	Day         string // YYYY-MM-DD
	Impressions int64
	Spend       *big.Rat
}

// ErrReport is the kind of every problem in a DSP's report.
var ErrReport = errors.New("reconcile: bad report")

var (
	integerRe = regexp.MustCompile(`^[0-9]{1,18}$`)
	decimalRe = regexp.MustCompile(`^[0-9]{1,30}(\.[0-9]{1,30})?$`)
)

// maxRows bounds a report: ten thousand years of days, or per-campaign rows.
const maxRows = 10_000_000

// ParseReport reads a DSP's CSV report: a header row naming the columns,
// then one row per day (several rows of one day, e.g. per campaign, are
// added up). Impressions are whole numbers, spend a plain decimal (no
// thousands separators, no currency sign). Days come back sorted.
func ParseReport(r io.Reader, c Columns) ([]Day, error) {
	cr := csv.NewReader(r)
	if c.Comma != 0 {
		cr.Comma = c.Comma
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: no header row: %v", ErrReport, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // spreadsheet exports start with a BOM
		}
		idx[strings.ToLower(strings.TrimSpace(h))] = i
	}
	col := func(name string) (int, error) {
		i, ok := idx[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return 0, fmt.Errorf("%w: no column %q in the header %q (name it with the column flags)", ErrReport, name, strings.Join(header, string(cr.Comma)))
		}
		return i, nil
	}
	di, err := col(c.Day)
	if err != nil {
		return nil, err
	}
	ii, err := col(c.Impressions)
	if err != nil {
		return nil, err
	}
	si, err := col(c.Spend)
	if err != nil {
		return nil, err
	}
	days := map[string]*Day{}
	for rows := 0; ; rows++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrReport, err) // a csv.ParseError names its line
		}
		line, _ := cr.FieldPos(0)
		if rows >= maxRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrReport, maxRows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		need := max(di, ii, si)
		if len(rec) <= need {
			return nil, fmt.Errorf("%w: line %d has %d fields, the header %d", ErrReport, line, len(rec), len(header))
		}
		dayText := strings.TrimSpace(rec[di])
		t, err := time.Parse(c.DayLayout, dayText)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: day %q is not written as %q", ErrReport, line, dayText, c.DayLayout)
		}
		imps := strings.TrimSpace(rec[ii])
		if !integerRe.MatchString(imps) {
			return nil, fmt.Errorf("%w: line %d: impressions %q are not a whole number", ErrReport, line, imps)
		}
		spendText := strings.TrimSpace(rec[si])
		if !decimalRe.MatchString(spendText) {
			return nil, fmt.Errorf("%w: line %d: spend %q is not a plain decimal (like 12.34)", ErrReport, line, spendText)
		}
		var n int64
		fmt.Sscan(imps, &n)
		spend, _ := new(big.Rat).SetString(spendText)
		key := t.Format("2006-01-02")
		d := days[key]
		if d == nil {
			d = &Day{Day: key, Spend: new(big.Rat)}
			days[key] = d
		}
		if d.Impressions+n < d.Impressions {
			return nil, fmt.Errorf("%w: line %d: impressions overflow", ErrReport, line)
		}
		d.Impressions += n
		d.Spend.Add(d.Spend, spend)
	}
	out := make([]Day, 0, len(days))
	for _, d := range days {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Day) int { return strings.Compare(a.Day, b.Day) })
	return out, nil
}
