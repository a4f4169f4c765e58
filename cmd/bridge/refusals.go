package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/internal/table"
	"github.com/adshares/dsp-bridge/store"
)

// The bids each DSP lost for their creative, in `payments dsps`: the
// operator's evidence when asking a DSP for simple markup.

// withRefusingDSPs adds a zero row for every DSP that had bids refused but
// no billed views in the range.
func withRefusingDSPs(totals []store.DSPTotal, refusals map[string]map[string]int64) []store.DSPTotal {
	seen := map[string]bool{}
	for _, t := range totals {
		seen[t.DSP] = true
	}
	var extra []string
	for dsp, byReason := range refusals {
		if !seen[dsp] && len(creativeRefusals(byReason)) > 0 {
			extra = append(extra, dsp)
		}
	}
	slices.Sort(extra)
	for _, dsp := range extra {
		totals = append(totals, store.DSPTotal{DSP: dsp})
	}
	slices.SortFunc(totals, func(a, b store.DSPTotal) int { return strings.Compare(a.DSP, b.DSP) })
	return totals
}

// creativeRefusals keeps the creative reasons of a DSP's rejection counts.
func creativeRefusals(byReason map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for _, r := range auction.CreativeReasons {
		if n := byReason[r.String()]; n > 0 {
			out[r.String()] = n
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func refusalTable(dsps []dspOut, total *dspOut) *table.Table {
	t := &table.Table{Header: []string{"DSP"}}
	for _, r := range auction.CreativeReasons {
		t.Header = append(t.Header, strings.ToUpper(strings.ReplaceAll(r.String(), "_", " ")))
	}
	row := func(d dspOut) []string {
		r := []string{d.DSP}
		for _, reason := range auction.CreativeReasons {
			r = append(r, strconv.FormatInt(d.CreativeRefusals[reason.String()], 10))
		}
		return r
	}
	for _, d := range dsps {
		if len(d.CreativeRefusals) > 0 {
			t.Add(row(d)...)
		}
	}
	t.Footer = row(*total)
	return t
}
