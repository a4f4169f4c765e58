package outbox

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// WriteStatus prints per-DSP notice counts as an aligned table with a total
// row, or as JSON ({"dsps": [...], "total": {...}}) when format is "json".
// Pending includes retrying (pending notices with a failed attempt).
func WriteStatus(w io.Writer, stats []store.OutboxStats, format string, now time.Time) error {
	total := store.OutboxStats{DSP: "TOTAL"}
	for _, s := range stats {
		total.Pending += s.Pending
		total.Retrying += s.Retrying
		total.Delivered += s.Delivered
		total.Undelivered += s.Undelivered
		total.AtRiskClicks += s.AtRiskClicks
		total.AtRiskNanoUSD += s.AtRiskNanoUSD
		if s.OldestPending != nil && (total.OldestPending == nil || s.OldestPending.Before(*total.OldestPending)) {
			total.OldestPending = s.OldestPending
		}
	}
	switch format {
	case "json":
		type row struct {
			store.OutboxStats
			AtRiskUSD string `json:"at_risk_usd"`
		}
		rows := make([]row, 0, len(stats))
		for _, s := range stats {
			rows = append(rows, row{s, FormatNanoUSD(s.AtRiskNanoUSD)})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"dsps": rows, "total": row{total, FormatNanoUSD(total.AtRiskNanoUSD)}})
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "DSP\tPENDING\tRETRYING\tDELIVERED\tUNDELIVERED\tAT RISK (USD)\tAT RISK (CLICKS)\tOLDEST PENDING\t")
		for _, s := range append(stats, total) {
			oldest := "-"
			if s.OldestPending != nil {
				oldest = now.Sub(*s.OldestPending).Truncate(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t\n", s.DSP, s.Pending, s.Retrying, s.Delivered,
				s.Undelivered, FormatNanoUSD(s.AtRiskNanoUSD), s.AtRiskClicks, oldest)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("unknown format %q (want table or json)", format)
	}
}

// FormatNanoUSD prints an amount of nano-USD as an exact decimal USD
// string with at least two decimals ("1.5" → "1.50", 1 → "0.000000001").
func FormatNanoUSD(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	frac := strings.TrimRight(fmt.Sprintf("%09d", n%1_000_000_000), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, n/1_000_000_000, frac)
}
