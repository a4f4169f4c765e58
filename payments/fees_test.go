package payments

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/events"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/rates"
	"github.com/adshares/dsp-bridge/ratesim"
	"github.com/adshares/dsp-bridge/store"
)

// viewServer serves /view from an events module on st.
func viewServer(t *testing.T, mod *events.Module) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	mod.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func getView(t *testing.T, srv *httptest.Server, extID string, n int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/view?extid=%s&cid=%032x", srv.URL, extID, n))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("view %s = %d", extID, resp.StatusCode)
	}
}

// exactClicks is floor(bid × adjustment × (1 − fee) / 1000 / ads_usd × 1e11)
// in exact rationals, from the operator's decimal units, with the
// adjustment's own rounding down to a whole micro-USD first (the price the
// auction stores).
func exactClicks(bidMicros, adjPPM, feePPM, rateNanos int64) int64 {
	adj := new(big.Rat).Mul(big.NewRat(bidMicros, 1), big.NewRat(adjPPM, ads.PPM))
	price := new(big.Int).Quo(adj.Num(), adj.Denom()) // micro-USD CPM, rounded down
	v := new(big.Rat).SetFrac(price, big.NewInt(1_000_000))
	v.Mul(v, new(big.Rat).Sub(big.NewRat(1, 1), big.NewRat(feePPM, ads.PPM)))
	v.Quo(v, big.NewRat(1000, 1))
	v.Quo(v, big.NewRat(rateNanos, 1_000_000_000))
	v.Mul(v, big.NewRat(ads.ClicksPerADS, 1))
	return new(big.Int).Quo(v.Num(), v.Denom()).Int64()
}

// TestFeesAdjustmentsAndRatesProperty drives random bids, bid adjustments,
// fees and rates through the real view path and the settler: every billed
// view's value equals the exact formula, every report equals the sum of its
// details, and `payments verify` (which recomputes with the stored fee and
// rate) finds nothing.
func TestFeesAdjustmentsAndRatesProperty(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	rng := rand.New(rand.NewPCG(16, 16))
	c := testclock.New(t0)
	var rate int64
	mod := events.New(st, quietLog(), func() int64 { return rate }, nil)
	mod.Now = c.Now
	srv := viewServer(t, mod)

	type billed struct {
		ext  string
		want int64
	}
	var all []billed
	for i := range 400 {
		bid := 1 + rng.Int64N(50_000_000)              // up to 50 USD CPM
		adj := 1 + rng.Int64N(config.MaxBidAdjustment) // (0, 10]
		if rng.IntN(3) == 0 {
			adj = ads.PPM
		}
		price := ads.AdjustPrice(bid, adj)
		if price == 0 {
			continue // the auction refuses a price that adjusts to nothing
		}
		ext := fmt.Sprintf("p%d", i)
		if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: ext, AuctionID: "a", RequestID: "r",
			CreativeID: "00000000000000000000000000000001", DSP: fmt.Sprintf("d%d", i%3), PriceMicros: price,
			BidAdjustmentPPM: adj}}); err != nil {
			t.Fatal(err)
		}
		rate = 1 + rng.Int64N(5_000_000_000) // up to 5 USD per ADS
		mod.FeePPM = rng.Int64N(ads.PPM)
		if rng.IntN(4) == 0 {
			mod.FeePPM = 0
		}
		c.Set(t0.Add(time.Duration(i) * 20 * time.Second)) // 400 views over 2 h 13 min: three reports
		getView(t, srv, ext, i)
		want := exactClicks(bid, adj, mod.FeePPM, rate)
		evs, err := st.EventsOf(ctx, ext)
		if err != nil || len(evs) != 1 || evs[0].Value != want || evs[0].RateNanos != rate || evs[0].FeePPM != mod.FeePPM {
			t.Fatalf("bid %d adj %d fee %d rate %d: event %+v (%v), want value %d", bid, adj, mod.FeePPM, rate, evs, err, want)
		}
		if want > 0 {
			all = append(all, billed{ext, want})
		}
	}
	c.Set(t0.Add(4 * time.Hour))
	if _, err := newSettler(st, time.Hour, 0, c).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	var total, reported int64
	for _, b := range all {
		total += b.want
	}
	for id := t0.Unix() - t0.Unix()%3600; id < t0.Add(3*time.Hour).Unix(); id += 3600 {
		r := mustReport(t, st, id)
		var details int64
		for off := int64(0); ; off += 50 {
			rows, err := st.ReportDetails(ctx, r, 50, off)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range rows {
				details += d.Value
			}
			if len(rows) < 50 {
				break
			}
		}
		if r.Value == nil || *r.Value != details {
			t.Fatalf("report %d: value %v, details sum %d", id, r.Value, details)
		}
		reported += details
	}
	if reported != total {
		t.Fatalf("reports hold %d clicks, the views are worth %d", reported, total)
	}
	if mm, _, err := st.VerifyPayments(ctx, allFrom, allTo); err != nil || len(mm) != 0 {
		t.Fatalf("verify: %v %+v", err, mm)
	}
	// verify recomputes with the stored fee: a view valued as if there were
	// no fee is caught.
	if _, err := st.Pool.Exec(ctx, `UPDATE events SET value = div(price_micros::numeric * 100000000000, rate_nanos)::bigint
		WHERE id = (SELECT min(id) FROM events WHERE fee_ppm > 0 AND value > 0)`); err != nil {
		t.Fatal(err)
	}
	if mm, _, _ := st.VerifyPayments(ctx, allFrom, allTo); len(mm) == 0 {
		t.Fatal("verify missed a view valued without its fee")
	}
}

// A rate feed outage, and the rate changing after it, never change a
// report already settled: its views keep the rate they were valued at.
func TestRateOutageNeverChangesAReport(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	c := testclock.New(t0.Add(time.Minute))
	fake := ratesim.New("0.05")
	defer fake.Close()
	feed := rates.New(config.Money{RateURL: fake.URL(), RateRefresh: time.Minute, RateMaxAge: time.Hour}, st, quietLog())
	feed.Now = c.Now
	if err := feed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mod := events.New(st, quietLog(), feed.Nanos, nil)
	mod.Now = c.Now
	mod.FeePPM = 100_000
	srv := viewServer(t, mod)
	for i, ext := range []string{"o1", "o2", "o3"} {
		if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: ext, AuctionID: "a", RequestID: "r",
			CreativeID: "00000000000000000000000000000001", DSP: "d", PriceMicros: 2_000_000}}); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			getView(t, srv, ext, i)
		}
	}
	settler := newSettler(st, time.Hour, 10*time.Minute, c)
	c.Set(t0.Add(71 * time.Minute))
	if _, err := settler.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	before := mustReport(t, st, t0.Unix())
	// 2 USD CPM × 0.9 / 1000 / 0.05 = 0.036 ADS per view.
	if before.Status != store.StatusDone || *before.Value != 2*3_600_000_000 {
		t.Fatalf("report before the outage: %+v", before)
	}

	fake.Fail(503)
	for range 5 {
		c.Add(time.Minute)
		feed.FetchOnce(ctx)
	}
	fake.Fail(0)
	fake.SetRate("0.1")
	c.Add(time.Minute)
	if err := feed.FetchOnce(ctx); err != nil || feed.Nanos() != 100_000_000 {
		t.Fatalf("recovery: %v, %d", err, feed.Nanos())
	}
	getView(t, srv, "o3", 3) // in the next period, at the new rate
	c.Set(t0.Add(3 * time.Hour))
	if _, err := settler.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	after := mustReport(t, st, t0.Unix())
	if *after.Value != *before.Value || after.Views != before.Views || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("report changed: %+v, was %+v", after, before)
	}
	if next := mustReport(t, st, t0.Unix()+3600); *next.Value != 1_800_000_000 {
		t.Fatalf("next report = %+v, want one view at the new rate (1800000000)", next)
	}
	if mm, _, err := st.VerifyPayments(ctx, allFrom, allTo); err != nil || len(mm) != 0 {
		t.Fatalf("verify: %v %+v", err, mm)
	}
}
