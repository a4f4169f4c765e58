// bridge payments verify: recompute the reports of a range from their events.

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/internal/table"
)

// mismatchOut is one problem found by verify.
type mismatchOut struct {
	ReportID int64  `json:"report_id,omitempty"`
	EventID  int64  `json:"event_id,omitempty"`
	Problem  string `json:"problem"`
	Want     string `json:"expected"`
	Got      string `json:"stored"`
}

func paymentsVerifyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := newPaymentsEnv("payments verify", stderr).withRange()
	defer e.close()
	from, to, err := e.openWindow(ctx, args, stderr)
	if err != nil {
		return err
	}
	mm, ver, err := e.st.VerifyPayments(ctx, from, to)
	if err != nil {
		return err
	}
	reports := ver.Reports
	out := make([]mismatchOut, 0, len(mm))
	for _, m := range mm {
		out = append(out, mismatchOut{m.ReportID, m.EventID, m.Problem, m.Want, m.Got})
	}
	switch *e.format {
	case "json":
		err = table.WriteJSON(stdout, struct {
			From     string        `json:"from"`
			To       string        `json:"to"`
			Reports  int           `json:"reports_checked"`
			Archived int           `json:"reports_archived"`
			Events   int64         `json:"billed_views_checked"`
			OK       bool          `json:"ok"`
			Problems []mismatchOut `json:"problems"`
		}{ads.FormatATOM(from), ads.FormatATOM(to), reports, ver.Archived, ver.Events, len(out) == 0, out})
	default:
		if len(out) == 0 && *e.format == "table" {
			fmt.Fprintf(stdout, "OK: %d reports checked, every done report equals the sum of its events; %d billed views recorded from %s to %s recomputed\n",
				reports, ver.Events, ads.FormatATOM(from), ads.FormatATOM(to))
			if ver.Archived > 0 {
				fmt.Fprintf(stdout, "%d reports archived (retention dropped some of their rows): totals kept, not recomputed\n", ver.Archived)
			}
			return nil
		}
		t := &table.Table{Header: []string{"REPORT", "EVENT", "PROBLEM", "EXPECTED", "STORED"}}
		for _, m := range out {
			rep, ev := "-", "-"
			if m.ReportID != 0 {
				rep = strconv.FormatInt(m.ReportID, 10)
			}
			if m.EventID != 0 {
				ev = strconv.FormatInt(m.EventID, 10)
			}
			t.Add(rep, ev, m.Problem, m.Want, m.Got)
		}
		err = t.Write(stdout, *e.format)
	}
	if err != nil {
		return err
	}
	if len(out) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d payment problem(s) found in %d reports", len(out), reports)}
	}
	return nil
}
