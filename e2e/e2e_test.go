// Package e2e holds the end-to-end test: the whole lifecycle of the bridge
// as the AdServer drives it (ADSERVER-BRIDGE §3), in-process, against real
// PostgreSQL and real simulated DSPs on loopback, through the same demo
// code that `bridge demo` prints.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/demo"
	"github.com/adshares/dsp-bridge/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// profiles are the demo's three DSPs with an outage long enough, whatever
// the machine's speed, to open the flaky DSP's breaker.
func profiles() []demo.Profile {
	p := demo.DefaultProfiles(4 * time.Second)
	p[2].OutageFrom, p[2].OutageTo = time.Second, 2500*time.Millisecond
	return p
}

func TestLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	env, err := demo.Start(ctx, demo.Options{
		Seed: 42, Rate: 15, Duration: 4 * time.Second, DatabaseURL: testdb.URL(t), Dir: t.TempDir(), DSPs: profiles(),
		ADSRate: "0.0437", Fee: "0.15",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	base := env.Config.BaseURL

	// Signature checks are on: an unsigned registration call is refused.
	if st, _ := get(t, base+"/info.json", nil); st != http.StatusUnauthorized {
		t.Errorf("unsigned GET /info.json: status %d, want 401", st)
	}

	sum, err := env.Play(ctx)
	if err != nil {
		t.Fatalf("lifecycle: %v", err)
	}
	var table bytes.Buffer
	sum.WriteTable(&table)
	t.Logf("demo summary:%s", table.String())

	// The demo's own invariants: exactly what `bridge demo` checks and prints.
	for _, p := range sum.Check() {
		t.Errorf("summary: %s", p)
	}

	// Registration and inventory were accepted by the AdServer's validators.
	if !sum.Registered || sum.ServerURL != base || sum.InventoryURL != base+"/inventory" {
		t.Errorf("registration: %v serverUrl %q inventoryUrl %q, want %q", sum.Registered, sum.ServerURL, sum.InventoryURL, base)
	}
	if sum.Campaigns != 1 || sum.Creatives != 4 {
		t.Errorf("inventory: %d campaigns, %d creatives; want 1 and 4", sum.Campaigns, sum.Creatives)
	}
	if len(sum.BidErrors) != 0 || sum.BidCalls != 60 || sum.Filled == 0 {
		t.Errorf("bids: %d calls, %d filled, rejected answers %v", sum.BidCalls, sum.Filled, sum.BidErrors)
	}
	// The real-time deadline check (unit tests assert what the auction
	// decided, not how long it took): every /bid answered by auction.tmax,
	// with a margin wide enough for -race on two shared cores. The slow DSP
	// answers in 180 ms, far inside tmax, so a late answer is the bridge's.
	if tmax := env.Config.Auction.TMax; sum.LatencyMax > tmax+time.Second {
		t.Errorf("slowest /bid answered after %s; auction.tmax is %s", sum.LatencyMax, tmax)
	}
	for _, d := range sum.DSPs {
		if d.Wins == 0 || d.Views == 0 {
			t.Errorf("%s: %d wins, %d views; every DSP should win some", d.Name, d.Wins, d.Views)
		}
	}
	if d := sum.DSPs[2]; d.BreakerOpens == 0 || d.Failed == 0 {
		t.Errorf("%s: breaker opened %d times after %d failures; its outage should open it", d.Name, d.BreakerOpens, d.Failed)
	}
	// The markup DSPs fill slots: their image markup and VAST resolve (the
	// same creative mostly from the cache) and are delivered inline; their
	// nurl and pixels are checked by Check. (Refusals are pinned by
	// TestCreativeFailuresLoseAndAreCounted: here, on a loaded machine, the
	// few scripted bids may all be cut off by the DSP timeout.)
	if m := sum.Markup; m.Resolved["markup_image"] == 0 || m.Resolved["vast"] == 0 || m.FromCache == 0 ||
		m.Delivered["inline"] == 0 || m.Delivered["inline"] > m.Resolved["markup_image"]+m.Resolved["vast"] {
		t.Errorf("creatives from markup: %+v", m)
	}

	// Recompute independently: what the DSPs bid, per view, at the rate the
	// fake rate service answered, less the 15 % fee.
	const rate, fee = 43_700_000, 150_000
	var want int64
	viewed := map[string]demo.WinRecord{} // by case id
	billedWant := map[string]map[string]int64{}
	for _, w := range sum.Wins {
		if !w.Viewed {
			continue
		}
		want += ads.ViewValueAfterFee(w.BidMicros, rate, fee)
		viewed[w.CaseID] = w
		if billedWant[w.DSP] == nil {
			billedWant[w.DSP] = map[string]int64{}
		}
		billedWant[w.DSP][w.AuctionID+"/"+w.ImpID] = w.BidMicros
	}
	if len(viewed) != sum.Views || want == 0 {
		t.Fatalf("%d distinct viewed cases for %d views, expected value %d", len(viewed), sum.Views, want)
	}

	// burl: every view billed exactly once, at the DSP's own bid price.
	for _, d := range env.DSPs {
		got := map[string]int64{}
		for _, q := range d.Server.Bills() {
			key := q.Get("auction") + "/" + q.Get("imp")
			if _, dup := got[key]; dup {
				t.Errorf("%s: billed twice for %s", d.Profile.Name, key)
			}
			got[key], _ = config.ParseDecimal(q.Get("price"), 6)
		}
		wantDSP := billedWant[d.Profile.Name]
		if len(got) != len(wantDSP) {
			t.Errorf("%s: %d burl notices delivered, %d views", d.Profile.Name, len(got), len(wantDSP))
		}
		for k, p := range wantDSP {
			if got[k] != p {
				t.Errorf("%s: burl for %s carries price %d micro-USD, the bid was %d", d.Profile.Name, k, got[k], p)
			}
		}
	}

	// Payment reports and details, fetched raw and checked with the
	// AdServer's validators: value = Σ details, Σ values = Σ billed views,
	// every viewed case paid exactly once.
	st, body := get(t, base+"/payment-reports", nil)
	if err := adserversim.ValidatePaymentReports(st, body); err != nil {
		t.Fatalf("payment-reports: %v", err)
	}
	var reports []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Value  *int64 `json:"value"`
	}
	if err := json.Unmarshal(body, &reports); err != nil {
		t.Fatal(err)
	}
	var total int64
	paid := map[string]int{}
	for _, r := range reports {
		if r.Status != "done" {
			continue
		}
		details := fetchDetails(t, env, r.ID)
		var s int64
		for _, d := range details {
			s += d.EventValue
			paid[d.CaseID]++
			w, ok := viewed[d.CaseID]
			if !ok {
				t.Errorf("report %s pays case %s, which was never viewed", r.ID, d.CaseID)
			} else if d.EventValue != ads.ViewValueAfterFee(w.BidMicros, rate, fee) {
				t.Errorf("report %s: case %s worth %d, its bid %d gives %d", r.ID, d.CaseID, d.EventValue, w.BidMicros,
					ads.ViewValueAfterFee(w.BidMicros, rate, fee))
			}
		}
		if s != *r.Value {
			t.Errorf("report %s: details sum %d, value %d", r.ID, s, *r.Value)
		}
		total += *r.Value
	}
	if total != want || sum.ReportedValue != want || sum.Credited != want {
		t.Errorf("reports total %d, summary %d, credited %d; billed views are worth %d", total, sum.ReportedValue, sum.Credited, want)
	}
	for cid := range viewed {
		if paid[cid] != 1 {
			t.Errorf("case %s paid %d times, want once", cid, paid[cid])
		}
	}
	if !bytes.Contains(table.Bytes(), []byte(strconv.FormatInt(want, 10))) || !bytes.Contains(table.Bytes(), []byte("OK:")) {
		t.Errorf("the printed summary does not show the total %d as OK", want)
	}
}

// fetchDetails pages a report's details as the AdServer does (signed path
// and header, limit 10 so that paging is exercised), validating each page.
func fetchDetails(t *testing.T, env *demo.Env, id string) []adserversim.Detail {
	t.Helper()
	const limit = 10
	var out []adserversim.Detail
	for offset := 0; ; offset += limit {
		u, err := env.Client.PaymentDetailsURL(id, time.Now(), limit, offset)
		if err != nil {
			t.Fatal(err)
		}
		nonce := []byte(fmt.Sprintf("%032d", time.Now().UnixNano()))
		hdr := http.Header{"Authorization": {ads.SignAuthorization(demo.AdServerSeed, demo.AdServerAddr, nonce, time.Now())}}
		st, body := get(t, u, hdr)
		if st != http.StatusOK {
			t.Fatalf("payment-details %s offset %d: status %d: %s", id, offset, st, body)
		}
		if err := adserversim.ValidatePaymentDetails(body); err != nil {
			t.Fatalf("payment-details %s offset %d: %v", id, offset, err)
		}
		var page []struct {
			CaseID     string `json:"case_id"`
			EventValue int64  `json:"event_value"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			out = append(out, adserversim.Detail{CaseID: d.CaseID, EventValue: d.EventValue})
		}
		if len(page) < limit {
			return out
		}
	}
}

func get(t *testing.T, u string, hdr http.Header) (int, []byte) {
	t.Helper()
	if _, err := url.Parse(u); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
