package events_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/events"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// A view is valued at the rate and fee of the moment it arrives: a view
// spooled while the database was down and replayed after the rate and the
// fee changed keeps the ones it was recorded with.
func TestSpooledViewKeepsItsRateAndFee(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	live, err := store.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	const price = 2_000_000 // 2 USD CPM
	if err := live.InsertAuctions(ctx, []store.Auction{{ExtID: "sp1", AuctionID: "a", RequestID: "1",
		CreativeID: "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b", DSP: "sim", PriceMicros: price}}); err != nil {
		t.Fatal(err)
	}
	down, err := store.Open(ctx, url, 1)
	if err != nil {
		t.Fatal(err)
	}
	down.Close() // every query fails: the database is "down" for this module
	spool, err := events.OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()

	rateThen, feeThen := int64(40_000_000), int64(150_000) // 0.04 USD/ADS, 15 %
	before := events.New(down, quiet, func() int64 { return rateThen }, spool)
	before.FeePPM = feeThen
	r := chi.NewRouter()
	before.Mount(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/view?extid=sp1&cid=" + cid(1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("view while down = %d, want 204 (spooled)", resp.StatusCode)
	}

	// Later: the rate doubled and the fee changed; the replay must not care.
	after := events.New(live, quiet, func() int64 { return 2 * rateThen }, spool)
	after.FeePPM = 50_000
	if n, err := after.ReplayOnce(ctx); err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	evs, err := live.EventsOf(ctx, "sp1")
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	// 2 USD CPM × 0.85 / 1000 / 0.04 USD per ADS = 0.0425 ADS.
	want := int64(4_250_000_000)
	if e := evs[0]; e.RateNanos != rateThen || e.FeePPM != feeThen || e.Value != want ||
		e.Value != ads.ViewValueAfterFee(price, rateThen, feeThen) {
		t.Fatalf("replayed view = rate %d fee %d value %d, want rate %d fee %d value %d",
			e.RateNanos, e.FeePPM, e.Value, rateThen, feeThen, want)
	}
}

// The rate is read at the moment of each view, not once at start.
func TestViewTakesTheRateOfItsMoment(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.win(t, "m1", "")
	e.win(t, "m2", "")
	current := int64(50_000_000)
	e.mod.Rate = func() int64 { return current }
	e.mod.FeePPM = 100_000
	if code, _ := e.get(t, "/view", "m1", cid(1)); code != 204 {
		t.Fatalf("view = %d", code)
	}
	current = 25_000_000
	if code, _ := e.get(t, "/view", "m2", cid(2)); code != 204 {
		t.Fatalf("view = %d", code)
	}
	for ext, want := range map[string]int64{"m1": 50_000_000, "m2": 25_000_000} {
		evs, _ := e.st.EventsOf(context.Background(), ext)
		if len(evs) != 1 || evs[0].RateNanos != want || evs[0].FeePPM != 100_000 ||
			evs[0].Value != ads.ViewValueAfterFee(2_500_000, want, 100_000) {
			t.Errorf("%s: %+v, want rate %d", ext, evs, want)
		}
	}
}
