package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/table"
	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("payments list", "payment reports: status, value in ADS and clicks, views", paymentsListCmd)
	register("payments show", "one report per DSP (ID [--details] for every row)", paymentsShowCmd)
	register("payments dsps", "what each DSP owes (--from --to): views, USD spend, bid adjustment, undelivered, at risk", paymentsDSPsCmd)
	register("payments verify", "recompute the reports of --from --to from their events; exit 1 on a mismatch", paymentsVerifyCmd)
}

// paymentsEnv is what every payments command needs: flags, config, store.
type paymentsEnv struct {
	fs     *flag.FlagSet
	path   *string
	format *string
	from   *string // --from and --to, with withRange
	to     *string
	cfg    *config.Config
	st     *store.Store
}

func newPaymentsEnv(name string, stderr io.Writer) *paymentsEnv {
	fs, path := newFlags(name, stderr)
	format := fs.String("format", "table", "output `format`: table, json or csv")
	return &paymentsEnv{fs: fs, path: path, format: format}
}

// open parses args (flags may follow positional arguments), loads the
// config and connects. It returns the positional arguments.
func (e *paymentsEnv) open(ctx context.Context, args []string, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(e.fs, args); err != nil {
			return nil, err
		}
		if e.fs.NArg() == 0 {
			break
		}
		pos = append(pos, e.fs.Arg(0))
		args = e.fs.Args()[1:]
	}
	switch *e.format {
	case "table", "json", "csv":
	default:
		return nil, &exitError{code: 2, err: errors.New("--format must be table, json or csv")}
	}
	cfg, err := loadConfig(*e.path, stderr)
	if err != nil {
		return nil, err
	}
	if cfg.Database.URL == "" {
		return nil, errors.New("payments commands need database.url (BRIDGE_DATABASE_URL) of the bridge's database")
	}
	st, err := store.Open(ctx, cfg.Database.URL, 2)
	if err != nil {
		return nil, err
	}
	e.cfg, e.st = cfg, st
	return pos, nil
}

func (e *paymentsEnv) close() {
	if e.st != nil {
		e.st.Close()
	}
}

// parseWhen reads --from/--to: ATOM/RFC 3339, a date (UTC midnight), or
// unix seconds.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use 2024-05-01, 2024-05-01T10:00:00+00:00 or unix seconds)", s)
}

// withRange adds --from and --to to the command's flags.
func (e *paymentsEnv) withRange() *paymentsEnv {
	e.from = e.fs.String("from", "", "start `time`, inclusive (default: to minus payments.window)")
	e.to = e.fs.String("to", "", "end `time`, exclusive (default: now)")
	return e
}

// openWindow opens like open (no positional arguments) and resolves --from
// and --to: by default the last payments.window.
func (e *paymentsEnv) openWindow(ctx context.Context, args []string, stderr io.Writer) (time.Time, time.Time, error) {
	if _, err := e.open(ctx, args, stderr); err != nil {
		return time.Time{}, time.Time{}, err
	}
	end := time.Now()
	if *e.to != "" {
		t, err := parseWhen(*e.to)
		if err != nil {
			return time.Time{}, time.Time{}, &exitError{code: 2, err: fmt.Errorf("--to: %w", err)}
		}
		end = t
	}
	start := end.Add(-e.cfg.Payments.Window)
	if *e.from != "" {
		t, err := parseWhen(*e.from)
		if err != nil {
			return time.Time{}, time.Time{}, &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
		}
		start = t
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, &exitError{code: 2, err: errors.New("--from must be before --to")}
	}
	return start, end, nil
}

// reportOut is a report as the operator commands print it.
type reportOut struct {
	ID          string  `json:"id"`
	PeriodStart string  `json:"period_start"`
	PeriodEnd   string  `json:"period_end"`
	Status      string  `json:"status"`
	Published   string  `json:"published_status"` // what /payment-reports shows the AdServer
	Views       int64   `json:"views"`
	ValueClicks *int64  `json:"value_clicks"`
	ValueADS    *string `json:"value_ads"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

func newReportOut(r store.Report, registered bool) reportOut {
	o := reportOut{ID: strconv.FormatInt(r.ID, 10), PeriodStart: ads.FormatATOM(r.PeriodStart),
		PeriodEnd: ads.FormatATOM(r.PeriodEnd), Status: r.Status, Published: store.StatusProcessing,
		Views: r.Views, ValueClicks: r.Value, CreatedAt: ads.FormatATOM(r.CreatedAt), UpdatedAt: ads.FormatATOM(r.UpdatedAt)}
	if r.Value != nil {
		s := ads.FormatADS(*r.Value)
		o.ValueADS = &s
		if registered {
			o.Published = r.Status
		}
	}
	return o
}

func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func intOrDash(n *int64) string {
	if n == nil {
		return "-"
	}
	return strconv.FormatInt(*n, 10)
}

func paymentsListCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := newPaymentsEnv("payments list", stderr).withRange()
	defer e.close()
	from, to, err := e.openWindow(ctx, args, stderr)
	if err != nil {
		return err
	}
	registered, err := e.st.InventoryFetched(ctx)
	if err != nil {
		return err
	}
	list, err := e.st.ListReports(ctx, from, to)
	if err != nil {
		return err
	}
	if !registered {
		fmt.Fprintln(stderr, "bridge: the AdServer has not fetched /inventory yet: every report is published as processing")
	}
	out := make([]reportOut, 0, len(list))
	for _, r := range list {
		out = append(out, newReportOut(r, registered))
	}
	if *e.format == "json" {
		return table.WriteJSON(stdout, out)
	}
	t := &table.Table{Header: []string{"ID", "PERIOD START", "STATUS", "PUBLISHED", "VIEWS", "VALUE ADS", "VALUE CLICKS", "UPDATED"}}
	var views, clicks int64
	for _, o := range out {
		t.Add(o.ID, o.PeriodStart, o.Status, o.Published, strconv.FormatInt(o.Views, 10), orDash(o.ValueADS), intOrDash(o.ValueClicks), o.UpdatedAt)
		views += o.Views
		if o.ValueClicks != nil {
			clicks += *o.ValueClicks
		}
	}
	t.Footer = []string{"TOTAL", fmt.Sprintf("%d reports", len(out)), "", "", strconv.FormatInt(views, 10), ads.FormatADS(clicks), strconv.FormatInt(clicks, 10), ""}
	return t.Write(stdout, *e.format)
}

// detailOut is one billed view of a report.
type detailOut struct {
	EventID     int64  `json:"event_id"`
	CaseID      string `json:"case_id"`
	ExtID       string `json:"ext_id"`
	DSP         string `json:"dsp"`
	CreatedAt   string `json:"created_at"`
	PriceUSDCPM string `json:"price_usd_cpm"`
	RateUSD     string `json:"ads_usd"`
	Fee         string `json:"fee"`
	ValueClicks int64  `json:"value_clicks"`
}

func paymentsShowCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := newPaymentsEnv("payments show", stderr)
	details := e.fs.Bool("details", false, "also list every billed view of the report")
	defer e.close()
	pos, err := e.open(ctx, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: bridge payments show ID [--details] [--format table|json|csv]")}
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || len(pos[0]) > 18 {
		return &exitError{code: 2, err: fmt.Errorf("%q is not a report id", pos[0])}
	}
	r, err := e.st.GetReport(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return &exitError{code: 1, err: fmt.Errorf("no payment report %d", id)}
	}
	if err != nil {
		return err
	}
	registered, err := e.st.InventoryFetched(ctx)
	if err != nil {
		return err
	}
	// Until settled, show the period's billed views so far.
	provisional := r.Status != store.StatusDone
	totals, err := e.st.ReportDSPTotals(ctx, r, provisional)
	if err != nil {
		return err
	}
	var rows []detailOut
	if *details {
		views, err := e.st.BilledViews(ctx, r, provisional)
		if err != nil {
			return err
		}
		rows = make([]detailOut, 0, len(views))
		for _, v := range views {
			rows = append(rows, detailOut{EventID: v.EventID, CaseID: v.CaseID, ExtID: v.ExtID, DSP: v.DSP,
				CreatedAt: ads.FormatATOM(v.CreatedAt), PriceUSDCPM: ads.FormatUSDMicros(v.PriceMicros),
				RateUSD: ads.FormatUSDNanos(v.RateNanos), Fee: ads.FormatPPM(v.FeePPM), ValueClicks: v.Value})
		}
	}
	dsps := make([]dspOut, 0, len(totals))
	for _, d := range totals {
		dsps = append(dsps, newDSPOut(d))
	}
	switch *e.format {
	case "json":
		return table.WriteJSON(stdout, struct {
			Report      reportOut   `json:"report"`
			Provisional bool        `json:"provisional"`
			DSPs        []dspOut    `json:"dsps"`
			Details     []detailOut `json:"details,omitempty"`
		}{newReportOut(*r, registered), provisional, dsps, rows})
	case "csv":
		if *details {
			return detailTable(rows).Write(stdout, "csv")
		}
		return dspTable(dsps, nil, false).Write(stdout, "csv")
	}
	o := newReportOut(*r, registered)
	fmt.Fprintf(stdout, "Report %s  %s .. %s\n", o.ID, o.PeriodStart, o.PeriodEnd)
	fmt.Fprintf(stdout, "Status %s (published as %s), %d views, value %s ADS (%s clicks)\n",
		o.Status, o.Published, o.Views, orDash(o.ValueADS), intOrDash(o.ValueClicks))
	if provisional {
		fmt.Fprintln(stdout, "Not settled yet: the totals below are the period's billed views so far.")
	}
	fmt.Fprintln(stdout)
	total := newDSPOut(sumDSPs(totals))
	if err := dspTable(dsps, &total, false).Write(stdout, "table"); err != nil {
		return err
	}
	if *details {
		fmt.Fprintln(stdout)
		return detailTable(rows).Write(stdout, "table")
	}
	return nil
}

func detailTable(rows []detailOut) *table.Table {
	t := &table.Table{Header: []string{"EVENT", "CASE ID", "DSP", "EXT ID", "CREATED", "PRICE USD CPM", "ADS USD", "FEE", "VALUE CLICKS"}}
	for _, d := range rows {
		t.Add(strconv.FormatInt(d.EventID, 10), d.CaseID, d.DSP, d.ExtID, d.CreatedAt, d.PriceUSDCPM, d.RateUSD, d.Fee, strconv.FormatInt(d.ValueClicks, 10))
	}
	return t
}
