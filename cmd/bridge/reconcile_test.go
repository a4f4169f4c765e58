package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// reconcileDB holds one DSP's billed views over three days: 3 on May 1
// (one of them from a gross bid adjusted by 0.85), 40 on May 2, 10 on May 3,
// and one at 23:30 UTC on May 1, which is May 2 in Warsaw.
func reconcileDB(t *testing.T) {
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
	day := func(d, h int) time.Time { return time.Date(2024, 5, d, h, 0, 0, 0, time.UTC) }
	type v struct {
		at       time.Time
		bidPrice string
		adj      int64
	}
	var views []v
	views = append(views, v{day(1, 8), "2.00", ads.PPM}, v{day(1, 9), "2.00", 850_000}, v{day(1, 23).Add(30 * time.Minute), "2.00", ads.PPM})
	for i := range 40 {
		views = append(views, v{day(2, 1).Add(time.Duration(i) * time.Minute), "1.5", ads.PPM})
	}
	for i := range 10 {
		views = append(views, v{day(3, 12).Add(time.Duration(i) * time.Minute), "3E+0", ads.PPM})
	}
	// Another DSP's view on May 1 must not count.
	views = append(views, v{day(1, 10), "9.00", -1})
	for i, x := range views {
		dsp, adj := "alpha", x.adj
		if adj < 0 {
			dsp, adj = "beta", ads.PPM
		}
		bid := map[string]int64{"2.00": 2_000_000, "1.5": 1_500_000, "3E+0": 3_000_000, "9.00": 9_000_000}[x.bidPrice]
		a := store.Auction{ExtID: fmt.Sprintf("r%d", i), AuctionID: "a", RequestID: "r", CreativeID: "c", DSP: dsp,
			PriceMicros: ads.AdjustPrice(bid, adj), BidAdjustmentPPM: adj, BidPrice: x.bidPrice, BidCurrency: "USD"}
		if err := st.InsertAuctions(ctx, []store.Auction{a}); err != nil {
			t.Fatal(err)
		}
		// A billed view carries what the books need of its win (store.RecordView).
		if _, err := st.Pool.Exec(ctx, `INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value, created_at,
				dsp, bid_adjustment_ppm, bid_price, bid_currency)
			VALUES ($1, md5($1), 'view', $2, 50000000, $3, $4, $5, $6, $7, $8)`, a.ExtID, a.PriceMicros, ads.ViewValue(a.PriceMicros, 50_000_000), x.at,
			a.DSP, a.BidAdjustmentPPM, a.BidPrice, a.BidCurrency); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("BRIDGE_CONFIG", "")
	t.Setenv("BRIDGE_DATABASE_URL", url)
	t.Setenv("BRIDGE_ADSHARES_ADDRESS", "0001-00000003-AB0C")
	t.Setenv("BRIDGE_MONEY_ADS_USD", "0.05")
}

func writeReport(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPaymentsReconcile(t *testing.T) {
	reconcileDB(t)
	// May 1 matches (the DSP counts its gross 2.00, not the adjusted 1.70),
	// May 2 is 2.4 % off (within 5 %), May 3 16.7 % off.
	report := writeReport(t, "day,impressions,spend\n2024-05-01,3,0.006\n2024-05-02,41,0.0615\n2024-05-03,12,0.036\n")

	code, out, errOut := runCmd(t, "payments", "reconcile", "--dsp", "alpha", "--file", report)
	t.Logf("payments reconcile:\n%s%s", out, errOut)
	if code != 1 || !strings.Contains(errOut, "1 of 3 day(s) differ by more than 5.00%") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"2024-05-01             3         3     0    0.00         0.006      0.006   0.00    0.00  USD      ok",
		"2024-05-02            40        41    -1   -2.44          0.06     0.0615  -0.0015   -2.44  USD      ok",
		"2024-05-03            10        12    -2  -16.67          0.03      0.036  -0.006  -16.67  USD  BEYOND",
	} {
		if !strings.Contains(squash(out), squash(want)) {
			t.Errorf("table lacks %q", want)
		}
	}

	code, out, _ = runCmd(t, "payments", "reconcile", "--dsp", "alpha", "--file", report, "--tolerance", "20%", "--format", "json")
	var res struct {
		Days []struct {
			Day         string
			BridgeViews int64  `json:"bridge_views"`
			Spend       string `json:"bridge_spend"`
			Beyond      bool   `json:"beyond_tolerance"`
		}
		Total      map[string]any
		DaysBeyond int `json:"days_beyond_tolerance"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Days) != 3 || res.DaysBeyond != 0 ||
		res.Days[2].Spend != "0.03" || res.Total["bridge_views"] != float64(53) {
		t.Fatalf("json with 20%%: exit %d\n%s", code, out)
	}

	code, out, _ = runCmd(t, "payments", "reconcile", "--dsp", "alpha", "--file", report, "--format", "csv", "--from", "2024-05-02", "--to", "2024-05-03")
	if code != 0 || !strings.HasPrefix(out, "DAY,BRIDGE VIEWS,DSP IMPS,DIFF,DIFF %,BRIDGE SPEND,DSP SPEND,DIFF,DIFF %,CUR,STATUS\n2024-05-02,40,41,") ||
		strings.Count(out, "\n") != 2 {
		t.Fatalf("csv for May 2 only: exit %d\n%s", code, out)
	}

	// In Warsaw the 23:30 UTC view of May 1 belongs to May 2.
	code, out, _ = runCmd(t, "payments", "reconcile", "--dsp", "alpha", "--file", report, "--tz", "Europe/Warsaw", "--format", "json",
		"--tolerance", "50")
	if json.Unmarshal([]byte(out), &res) != nil || len(res.Days) != 3 || res.Days[0].BridgeViews != 2 || res.Days[1].BridgeViews != 41 {
		t.Fatalf("--tz Europe/Warsaw: exit %d\n%s", code, out)
	}

	for _, bad := range [][]string{
		{"--dsp", "alpha"},
		{"--dsp", "alpha", "--file", report, "--tolerance", "lots"},
		{"--dsp", "alpha", "--file", report, "--tz", "Mars/Olympus"},
		{"--dsp", "alpha", "--file", writeReport(t, "day,imps\n")},
	} {
		if code, _, _ := runCmd(t, append([]string{"payments", "reconcile"}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// squash collapses runs of spaces, so table assertions do not depend on
// column widths.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
