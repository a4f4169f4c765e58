// bridge payments dsps: what each DSP owes for a time range.

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/internal/table"
	"github.com/adshares/dsp-bridge/store"
)

// dspOut is one DSP's totals.
type dspOut struct {
	DSP         string `json:"dsp"`
	Views       int64  `json:"billed_views"`
	SpendUSD    string `json:"spend_usd"`
	ValueClicks int64  `json:"value_clicks"`
	ValueADS    string `json:"value_ads"`
	Undelivered int64  `json:"undelivered_notices"`
	AtRiskUSD   string `json:"at_risk_usd"`
	// BidAdjustment is the bid adjustment of the billed views' wins: one
	// multiplier, or "min-max" when it changed within the range.
	BidAdjustment string `json:"bid_adjustment,omitempty"`
	// CreativeRefusals are its bids refused for their creative, by reason
	// (payments dsps only).
	CreativeRefusals map[string]int64 `json:"creative_refusals,omitempty"`
}

func newDSPOut(d store.DSPTotal) dspOut {
	return dspOut{DSP: d.DSP, Views: d.Views, SpendUSD: ads.FormatSpendUSD(d.PriceMicros), ValueClicks: d.Value,
		ValueADS: ads.FormatADS(d.Value), Undelivered: d.Undelivered, AtRiskUSD: ads.FormatSpendUSD(d.AtRisk),
		BidAdjustment: adjustmentRange(d.AdjustmentMin, d.AdjustmentMax)}
}

// adjustmentRange shows the bid adjustments of a DSP's views: "1", "0.85",
// or "0.85-1" when it changed; "" without views.
func adjustmentRange(lo, hi int64) string {
	switch {
	case lo == 0:
		return ""
	case lo == hi:
		return ads.FormatPPM(lo)
	}
	return ads.FormatPPM(lo) + "-" + ads.FormatPPM(hi)
}

func sumDSPs(list []store.DSPTotal) store.DSPTotal {
	total := store.DSPTotal{DSP: "TOTAL"}
	for _, d := range list {
		total.Views += d.Views
		total.Value += d.Value
		total.PriceMicros += d.PriceMicros
		total.Undelivered += d.Undelivered
		total.AtRisk += d.AtRisk
	}
	return total
}

func dspTable(dsps []dspOut, total *dspOut, risk bool) *table.Table {
	t := &table.Table{Header: []string{"DSP", "BILLED VIEWS", "SPEND USD", "VALUE ADS", "VALUE CLICKS"}}
	if risk {
		t.Header = append(t.Header, "BID ADJ", "UNDELIVERED", "AT RISK USD")
	}
	row := func(d dspOut) []string {
		r := []string{d.DSP, strconv.FormatInt(d.Views, 10), d.SpendUSD, d.ValueADS, strconv.FormatInt(d.ValueClicks, 10)}
		if risk {
			adj := d.BidAdjustment
			if adj == "" && d.DSP != "TOTAL" {
				adj = "-"
			}
			r = append(r, adj, strconv.FormatInt(d.Undelivered, 10), d.AtRiskUSD)
		}
		return r
	}
	for _, d := range dsps {
		t.Add(row(d)...)
	}
	if total != nil {
		t.Footer = row(*total)
	}
	return t
}

func paymentsDSPsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := newPaymentsEnv("payments dsps", stderr).withRange()
	defer e.close()
	from, to, err := e.openWindow(ctx, args, stderr)
	if err != nil {
		return err
	}
	totals, err := e.st.DSPSpend(ctx, from, to)
	if err != nil {
		return err
	}
	refusals, err := e.st.Rejections(ctx, from, to)
	if err != nil {
		return err
	}
	totals = withRefusingDSPs(totals, refusals)
	dsps := make([]dspOut, 0, len(totals))
	for _, d := range totals {
		o := newDSPOut(d)
		o.CreativeRefusals = creativeRefusals(refusals[d.DSP])
		dsps = append(dsps, o)
	}
	total := newDSPOut(sumDSPs(totals))
	total.CreativeRefusals = map[string]int64{}
	for _, d := range dsps {
		for r, n := range d.CreativeRefusals {
			total.CreativeRefusals[r] += n
		}
	}
	if *e.format == "json" {
		return table.WriteJSON(stdout, struct {
			From  string   `json:"from"`
			To    string   `json:"to"`
			DSPs  []dspOut `json:"dsps"`
			Total dspOut   `json:"total"`
		}{ads.FormatATOM(from), ads.FormatATOM(to), dsps, total})
	}
	if *e.format == "table" {
		fmt.Fprintf(stdout, "Billed views recorded from %s to %s\n\n", ads.FormatATOM(from), ads.FormatATOM(to))
		if err := dspTable(dsps, &total, true).Write(stdout, "table"); err != nil {
			return err
		}
		if len(total.CreativeRefusals) == 0 {
			return nil
		}
		fmt.Fprintf(stdout, "\nBids refused for their creative (counted per UTC day, so the days the range touches; unrenderable_markup: ask the DSP for simple markup):\n")
		return refusalTable(dsps, &total).Write(stdout, "table")
	}
	t := dspTable(dsps, nil, true)
	for _, r := range auction.CreativeReasons {
		t.Header = append(t.Header, strings.ToUpper(strings.ReplaceAll(r.String(), "_", " ")))
	}
	for i, d := range dsps {
		for _, r := range auction.CreativeReasons {
			t.Rows[i] = append(t.Rows[i], strconv.FormatInt(d.CreativeRefusals[r.String()], 10))
		}
	}
	return t.Write(stdout, "csv")
}
