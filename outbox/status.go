package outbox

import (
	"fmt"
	"io"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/internal/table"
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
			rows = append(rows, row{s, ads.FormatUSDNanos(s.AtRiskNanoUSD)})
		}
		return table.WriteJSON(w, map[string]any{"dsps": rows, "total": row{total, ads.FormatUSDNanos(total.AtRiskNanoUSD)}})
	case "table", "":
		t := table.New("DSP", "PENDING", "RETRYING", "DELIVERED", "UNDELIVERED", "AT RISK (USD)", "AT RISK (CLICKS)", "OLDEST PENDING")
		for _, s := range append(stats, total) {
			oldest := "-"
			if s.OldestPending != nil {
				oldest = now.Sub(*s.OldestPending).Truncate(time.Second).String()
			}
			t.Add(s.DSP, table.Int(s.Pending), table.Int(s.Retrying), table.Int(s.Delivered), table.Int(s.Undelivered),
				ads.FormatUSDNanos(s.AtRiskNanoUSD), table.Int(s.AtRiskClicks), oldest)
		}
		return t.Write(w, "table")
	default:
		return fmt.Errorf("unknown format %q (want table or json)", format)
	}
}
