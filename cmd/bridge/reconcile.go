package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/adshares/dsp-bridge/internal/table"
	"github.com/adshares/dsp-bridge/reconcile"
	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("payments reconcile", "compare a DSP's own daily report (CSV) with the bridge's billed views; exit 1 beyond --tolerance", paymentsReconcileCmd)
}

// reconcileOut is one day (or the total) as the command prints it.
type reconcileOut struct {
	Day            string `json:"day"`
	BridgeViews    int64  `json:"bridge_views"`
	DSPImpressions int64  `json:"dsp_impressions"`
	ImpsDiff       int64  `json:"impressions_diff"`
	ImpsPercent    string `json:"impressions_diff_percent"`
	BridgeSpend    string `json:"bridge_spend"`
	DSPSpend       string `json:"dsp_spend"`
	SpendDiff      string `json:"spend_diff"`
	SpendPercent   string `json:"spend_diff_percent"`
	Currency       string `json:"currency"`
	Beyond         bool   `json:"beyond_tolerance"`
}

func newReconcileOut(l reconcile.Line) reconcileOut {
	ip, iok := l.ImpressionsPercent()
	sp, sok := l.SpendPercent()
	return reconcileOut{Day: l.Day, BridgeViews: l.BridgeViews, DSPImpressions: l.DSPImpressions, ImpsDiff: l.ImpressionsDiff(),
		ImpsPercent: reconcile.FormatPercent(ip, iok), BridgeSpend: reconcile.FormatAmount(l.BridgeSpend),
		DSPSpend: reconcile.FormatAmount(l.DSPSpend), SpendDiff: reconcile.FormatAmount(l.SpendDiff()),
		SpendPercent: reconcile.FormatPercent(sp, sok), Currency: l.Currency, Beyond: l.Beyond}
}

func paymentsReconcileCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := newPaymentsEnv("payments reconcile", stderr)
	dsp := e.fs.String("dsp", "", "the DSP (dsps[].name) whose report this is (required)")
	file := e.fs.String("file", "", "the DSP's report, a CSV `file` with a header row (required)")
	from := e.fs.String("from", "", "first `day` compared, YYYY-MM-DD (default: the report's first day)")
	to := e.fs.String("to", "", "the `day` after the last one compared, YYYY-MM-DD, exclusive (default: the day after the report's last)")
	tolerance := e.fs.String("tolerance", "5%", "largest difference, in `percent` of the DSP's figure, a day may show")
	tz := e.fs.String("tz", "UTC", "IANA time `zone` the report's days are in (e.g. America/New_York)")
	cols := reconcile.DefaultColumns
	e.fs.StringVar(&cols.Day, "day-column", cols.Day, "the report's day `column`")
	e.fs.StringVar(&cols.Impressions, "impressions-column", cols.Impressions, "the report's impressions `column`")
	e.fs.StringVar(&cols.Spend, "spend-column", cols.Spend, "the report's spend `column` (in the DSP's currency)")
	e.fs.StringVar(&cols.DayLayout, "day-format", cols.DayLayout, "how the report writes a day, as a Go time `layout` (01/02/2006 for US dates)")
	delim := e.fs.String("delimiter", ",", "the report's field `separator` (one character, e.g. ;)")
	defer e.close()
	if _, err := e.open(ctx, args, stderr); err != nil {
		return err
	}
	usage := func(format string, a ...any) error { return &exitError{code: 2, err: fmt.Errorf(format, a...)} }
	if *dsp == "" || *file == "" {
		return usage("usage: bridge payments reconcile --dsp NAME --file REPORT.csv [--from DAY --to DAY] [--tolerance 5%%] [--tz UTC]")
	}
	tol, err := reconcile.ParseTolerance(*tolerance)
	if err != nil {
		return usage("--tolerance: %v", err)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usage("--tz: %v", err)
	}
	r, n := utf8.DecodeRuneInString(*delim)
	if n == 0 || n != len(*delim) || r == '"' || r == '\n' || r == '\r' {
		return usage("--delimiter must be one character")
	}
	cols.Comma = r
	f, err := os.Open(*file)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	report, err := reconcile.ParseReport(f, cols)
	f.Close()
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%s: %w", *file, err)}
	}
	start, end, err := dayRange(*from, *to, report, loc)
	if err != nil {
		return usage("%v", err)
	}
	var inRange []reconcile.Day
	for _, d := range report {
		if d.Day >= start.Format("2006-01-02") && d.Day < end.Format("2006-01-02") {
			inRange = append(inRange, d)
		}
	}
	if skipped := len(report) - len(inRange); skipped > 0 {
		fmt.Fprintf(stderr, "bridge: %d day(s) of the report are outside %s .. %s and not compared\n", skipped,
			start.Format("2006-01-02"), end.Format("2006-01-02"))
	}
	days, err := e.st.BilledByDay(ctx, *dsp, start, end, loc.String())
	if err != nil {
		return err
	}
	billed, err := billedDays(days)
	if err != nil {
		return err
	}
	res := reconcile.Compare(billed, inRange, tol)
	lines := make([]reconcileOut, 0, len(res.Lines))
	for _, l := range res.Lines {
		lines = append(lines, newReconcileOut(l))
	}
	total := newReconcileOut(res.Total)
	tolText := res.Tolerance.FloatString(2)
	switch *e.format {
	case "json":
		err = table.WriteJSON(stdout, struct {
			DSP        string         `json:"dsp"`
			From       string         `json:"from"`
			To         string         `json:"to"`
			TimeZone   string         `json:"time_zone"`
			Tolerance  string         `json:"tolerance_percent"`
			Days       []reconcileOut `json:"days"`
			Total      reconcileOut   `json:"total"`
			DaysBeyond int            `json:"days_beyond_tolerance"`
		}{*dsp, start.Format("2006-01-02"), end.Format("2006-01-02"), loc.String(), tolText, lines, total, res.Beyond})
	case "csv":
		err = reconcileTable(lines, nil).Write(stdout, "csv")
	default:
		fmt.Fprintf(stdout, "DSP %s: its report %s against the bridge's billed views, days %s .. %s (exclusive) in %s, tolerance %s%%\n",
			*dsp, *file, start.Format("2006-01-02"), end.Format("2006-01-02"), loc, tolText)
		fmt.Fprintln(stdout, "Spend is in the DSP's currency at its own prices (before bid adjustments); percentages are of the DSP's figure.")
		fmt.Fprintln(stdout)
		err = reconcileTable(lines, &total).Write(stdout, "table")
	}
	if err != nil {
		return err
	}
	if res.Beyond > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d day(s) differ by more than %s%%", res.Beyond, len(res.Lines), tolText)}
	}
	return nil
}

func reconcileTable(lines []reconcileOut, total *reconcileOut) *table.Table {
	t := table.New("DAY", "BRIDGE VIEWS", "DSP IMPS", "DIFF", "DIFF %", "BRIDGE SPEND", "DSP SPEND", "DIFF", "DIFF %", "CUR", "STATUS")
	row := func(o reconcileOut) []string {
		status := "ok"
		if o.Beyond {
			status = "BEYOND"
		}
		return []string{o.Day, strconv.FormatInt(o.BridgeViews, 10), strconv.FormatInt(o.DSPImpressions, 10),
			strconv.FormatInt(o.ImpsDiff, 10), o.ImpsPercent, o.BridgeSpend, o.DSPSpend, o.SpendDiff, o.SpendPercent, o.Currency, status}
	}
	for _, o := range lines {
		t.Add(row(o)...)
	}
	if total != nil {
		t.Footer = row(*total)
	}
	return t
}

// dayRange resolves --from and --to (days in loc) into instants, by default
// the report's own days.
func dayRange(from, to string, report []reconcile.Day, loc *time.Location) (time.Time, time.Time, error) {
	day := func(flag, s string) (time.Time, error) {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("--%s: %q is not a day (YYYY-MM-DD)", flag, s)
		}
		return t, nil
	}
	var start, end time.Time
	var err error
	switch {
	case from != "":
		if start, err = day("from", from); err != nil {
			return start, end, err
		}
	case len(report) > 0:
		start, _ = day("from", report[0].Day)
	default:
		return start, end, errors.New("the report has no days; give --from and --to")
	}
	switch {
	case to != "":
		if end, err = day("to", to); err != nil {
			return start, end, err
		}
	case len(report) > 0:
		last, _ := day("to", report[len(report)-1].Day)
		end = last.AddDate(0, 0, 1)
	default:
		return start, end, errors.New("the report has no days; give --from and --to")
	}
	if !start.Before(end) {
		return start, end, errors.New("--from must be before --to")
	}
	return start, end, nil
}

// billedDays turns the store's sums into exact spend: Σ CPM / 1000.
func billedDays(days []store.DayBilled) ([]reconcile.Billed, error) {
	out := make([]reconcile.Billed, 0, len(days))
	for _, d := range days {
		sum, ok := new(big.Rat).SetString(d.BidSum)
		if !ok {
			return nil, fmt.Errorf("bridge books: day %s: bid sum %q is not a number", d.Day, d.BidSum)
		}
		out = append(out, reconcile.Billed{Day: d.Day, Views: d.Views, Spend: sum.Quo(sum, big.NewRat(1000, 1)), Currency: d.Currencies})
	}
	return out, nil
}
