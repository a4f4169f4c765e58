package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/payments"
	"github.com/adshares/dsp-bridge/store"
)

// paymentsDB starts a dedicated PostgreSQL (no TestMain needed in this
// package), with two settled hourly reports and one open one.
func paymentsDB(t *testing.T) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	url := testdb.NewCluster(t).URL("postgres")
	st, err := store.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1678953600, 0)
	wins := []store.Auction{
		{ExtID: "w1", AuctionID: "a", RequestID: "r", CreativeID: "c", DSP: "alpha", PriceMicros: 2_500_000},
		// beta bids gross: 1.452432 USD CPM × 0.85 = 1.234567 (rounded down).
		{ExtID: "w2", AuctionID: "a", RequestID: "r", CreativeID: "c", DSP: "beta", PriceMicros: ads.AdjustPrice(1_452_432, 850_000),
			BidAdjustmentPPM: 850_000},
		{ExtID: "w3", AuctionID: "a", RequestID: "r", CreativeID: "c", DSP: "alpha", PriceMicros: 700_001},
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	// The last view was billed after the operator set money.fee: 0.1.
	fees := []int64{0, 0, 100_000}
	for i, w := range wins {
		_, err := st.Pool.Exec(ctx, `INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value, created_at, fee_ppm, dsp,
				bid_adjustment_ppm)
			VALUES ($1, md5($1), 'view', $2, 50000000, $3, $4, $5, $6, coalesce(nullif($7::bigint, 0), 1000000))`,
			w.ExtID, w.PriceMicros, ads.ViewValueAfterFee(w.PriceMicros, 50_000_000, fees[i]),
			t0.Add(time.Duration(i)*40*time.Minute), fees[i], w.DSP, w.BidAdjustmentPPM)
		if err != nil {
			t.Fatal(err)
		}
	}
	// beta's billing notice was never delivered.
	if _, err := st.Pool.Exec(ctx, `INSERT INTO outbox (ext_id, dsp, kind, url, status, created_at, billed_value, billed_price_micros)
		VALUES ('w2', 'beta', 'burl', 'http://127.0.0.1:1/bill', 'undelivered', $1, $2, 1234567)`,
		t0.Add(40*time.Minute), ads.ViewValue(1_234_567, 50_000_000)); err != nil {
		t.Fatal(err)
	}
	// Bids refused for their creative that day (the tally's flushes):
	// gamma never won anything.
	if err := st.AddRejections(ctx, []store.RejectionCount{
		{Day: t0, DSP: "alpha", Reason: "unrenderable_markup", Bids: 4},
		{Day: t0, DSP: "alpha", Reason: "below_floor", Bids: 9}, // not a creative reason: not listed
		{Day: t0, DSP: "gamma", Reason: "creative_timeout", Bids: 2},
		{Day: t0.AddDate(0, 0, 3), DSP: "alpha", Reason: "unrenderable_markup", Bids: 100}, // outside the range
	}); err != nil {
		t.Fatal(err)
	}
	s := payments.NewSettler(st, config.Payments{Period: time.Hour, SettleAfter: 10 * time.Minute, Window: 720 * time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Now = func() time.Time { return t0.Add(2*time.Hour + 15*time.Minute) }
	if _, err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BRIDGE_CONFIG", "")
	t.Setenv("BRIDGE_DATABASE_URL", url)
	t.Setenv("BRIDGE_ADSHARES_ADDRESS", "0001-00000003-AB0C")
	t.Setenv("BRIDGE_MONEY_ADS_USD", "0.05")
	return st, url
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPaymentsCommands(t *testing.T) {
	st, _ := paymentsDB(t)
	ctx := context.Background()
	window := []string{"--from", "2023-03-16", "--to", "2023-03-17"}

	code, out, errOut := runCmd(t, append([]string{"payments", "list"}, window...)...)
	t.Logf("payments list:\n%s%s", out, errOut) // shown with -v: the README examples
	if code != 0 || !strings.Contains(out, "1678953600") || !strings.Contains(out, "0.07469134") ||
		!strings.Contains(errOut, "has not fetched /inventory") {
		t.Fatalf("list: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCmd(t, append([]string{"payments", "list", "--format", "json"}, window...)...)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 ||
		list[0]["value_clicks"] != float64(ads.ViewValue(2_500_000, 50_000_000)+ads.ViewValue(1_234_567, 50_000_000)) ||
		list[2]["value_clicks"] != nil || list[0]["published_status"] != "processing" {
		t.Fatalf("list json: %d %s", code, out)
	}

	code, out, _ = runCmd(t, "payments", "show", "1678953600", "--details")
	t.Logf("payments show --details:\n%s", out)
	if code != 0 || !strings.Contains(out, "alpha") || !strings.Contains(out, "beta") || !strings.Contains(out, md5hex("w2")) {
		t.Fatalf("show: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "payments", "show", "1678953600", "--format", "csv")
	t.Logf("payments show --format csv:\n%s", out)
	if code != 0 || !strings.HasPrefix(out, "DSP,BILLED VIEWS,SPEND USD,VALUE ADS,VALUE CLICKS\nalpha,1,0.0025,0.05,5000000000\n") {
		t.Fatalf("show csv: %d\n%s", code, out)
	}
	if code, _, _ = runCmd(t, "payments", "show", "42"); code != 1 {
		t.Fatalf("unknown report: exit %d", code)
	}

	code, out, _ = runCmd(t, append([]string{"payments", "dsps", "--format", "json"}, window...)...)
	var dsps struct {
		DSPs  []map[string]any
		Total map[string]any
	}
	if code != 0 || json.Unmarshal([]byte(out), &dsps) != nil || len(dsps.DSPs) != 3 {
		t.Fatalf("dsps: %d %s", code, out)
	}
	if r := dsps.DSPs[0]["creative_refusals"]; fmt.Sprint(r) != "map[unrenderable_markup:4]" {
		t.Fatalf("alpha's creative refusals %v", r)
	}
	if g := dsps.DSPs[2]; g["dsp"] != "gamma" || g["billed_views"] != float64(0) || fmt.Sprint(g["creative_refusals"]) != "map[creative_timeout:2]" {
		t.Fatalf("gamma: %v", g)
	}
	// alpha: 2.50 + 0.700001 USD CPM → (2500000 + 700001) / 1e9 USD exactly.
	if a := dsps.DSPs[0]; a["dsp"] != "alpha" || a["billed_views"] != float64(2) || a["spend_usd"] != "0.003200001" {
		t.Fatalf("alpha: %v", a)
	}
	if b := dsps.DSPs[1]; b["undelivered_notices"] != float64(1) || b["at_risk_usd"] != "0.001234567" || b["bid_adjustment"] != "0.85" {
		t.Fatalf("beta: %v", b)
	}
	if a := dsps.DSPs[0]; a["bid_adjustment"] != "1" || a["value_clicks"] != float64(5_000_000_000+1_260_001_800) {
		t.Fatalf("alpha (one view with a 10 %% fee): %v", a)
	}
	if dsps.Total["spend_usd"] != "0.004434568" {
		t.Fatalf("total: %v", dsps.Total)
	}
	code, out, _ = runCmd(t, append([]string{"payments", "dsps"}, window...)...)
	t.Logf("payments dsps:\n%s", out)
	if code != 0 || !strings.Contains(out, "TOTAL") || !strings.Contains(out, "AT RISK USD") || !strings.Contains(out, "BID ADJ") ||
		!strings.Contains(out, "Bids refused for their creative") || !strings.Contains(out, "UNRENDERABLE MARKUP") {
		t.Fatalf("dsps table: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "payments", "show", "1678957200", "--details", "--format", "csv")
	if code != 0 || !strings.Contains(out, ",0.700001,0.05,0.1,1260001800\n") {
		t.Fatalf("show details csv (fee column): %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, append([]string{"payments", "dsps", "--format", "csv"}, window...)...)
	if lines := strings.Split(out, "\n"); code != 0 || !strings.HasSuffix(lines[0], ",UNRENDERABLE MARKUP,CREATIVE MISMATCH,CREATIVE TIMEOUT,CREATIVE TOO LARGE,CREATIVE FETCH FAILED,REFUSED URL") ||
		!strings.HasSuffix(lines[1], ",4,0,0,0,0,0") || !strings.HasPrefix(lines[3], "gamma,0,") {
		t.Fatalf("dsps csv: %d\n%s", code, out)
	}

	code, out, _ = runCmd(t, append([]string{"payments", "verify"}, window...)...)
	if code != 0 || !strings.HasPrefix(out, "OK: 3 reports") {
		t.Fatalf("verify clean: %d %s", code, out)
	}
	// Corrupt one settled event's value by a single click.
	if _, err := st.Pool.Exec(ctx, `UPDATE events SET value = value + 1 WHERE ext_id = 'w2'`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, append([]string{"payments", "verify"}, window...)...)
	t.Logf("payments verify (corrupted):\n%s%s", out, errOut)
	if code != 1 || !strings.Contains(out, "report value differs from the sum of its events") ||
		!strings.Contains(out, "event value differs from price x (1 - fee) / rate") || !strings.Contains(errOut, "problem") {
		t.Fatalf("verify corrupted: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCmd(t, append([]string{"payments", "verify", "--format", "json"}, window...)...)
	var v struct {
		OK       bool
		Problems []map[string]any
	}
	if code != 1 || json.Unmarshal([]byte(out), &v) != nil || v.OK || len(v.Problems) != 2 {
		t.Fatalf("verify json: %d %s", code, out)
	}
	if code, _, _ = runCmd(t, "payments", "list", "--format", "xml"); code != 2 {
		t.Fatalf("bad format: exit %d", code)
	}
}

// md5hex is the case id the test data derives from an ext id.
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
