package payments

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// t0 is the start of an hourly period (the id the AdServer's tests use).
var t0 = time.Unix(1678953600, 0).UTC()

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newSettler(st *store.Store, period, settleAfter time.Duration, c *testclock.Clock) *Settler {
	s := NewSettler(st, config.Payments{Period: period, SettleAfter: settleAfter, Window: 720 * time.Hour}, quietLog())
	s.Now = c.Now
	return s
}

// view is one billed view to insert.
type view struct {
	dsp         string
	priceMicros int64
	rateNanos   int64
	at          time.Time
}

var seq int

// addViews stores a win per view (store.InsertAuctions) and its billed view
// event (plain SQL, value from ads.ViewValue), and returns the event ids.
func addViews(t *testing.T, st *store.Store, views ...view) []int64 {
	t.Helper()
	ctx := context.Background()
	wins := make([]store.Auction, len(views))
	for i, v := range views {
		seq++
		wins[i] = store.Auction{ExtID: fmt.Sprintf("ext%d_%d", seq, time.Now().UnixNano()), AuctionID: "a", RequestID: "r",
			CreativeID: "00000000000000000000000000000001", DSP: v.dsp, PriceMicros: v.priceMicros}
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(views))
	for i, v := range views {
		err := st.Pool.QueryRow(ctx, `INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value, created_at, dsp)
			VALUES ($1, md5($1), 'view', $2, $3, $4, $5, $6) RETURNING id`,
			wins[i].ExtID, v.priceMicros, v.rateNanos, ads.ViewValue(v.priceMicros, v.rateNanos), v.at, v.dsp).Scan(&ids[i])
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// bulkViews inserts n billed views at `at` with one INSERT ... SELECT
// generate_series each for wins and events; prices vary per row.
func bulkViews(t *testing.T, st *store.Store, n int, at time.Time) {
	t.Helper()
	ctx := context.Background()
	_, err := st.Pool.Exec(ctx, `INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, price_micros, created_at)
		SELECT 'bulk' || g, 'a', 'r', '00000000000000000000000000000001', 'dsp' || (g % 3), 1000 + (g * 7919) % 5000000, $2
		FROM generate_series(1, $1::int) g`, n, at)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool.Exec(ctx, `INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value, created_at, dsp)
		SELECT a.ext_id, md5(a.ext_id), 'view', a.price_micros, 50000000,
			div(a.price_micros::numeric * 100000000000, 50000000)::bigint, $1, a.dsp
		FROM auctions a WHERE a.ext_id LIKE 'bulk%' ORDER BY a.ext_id`, at)
	if err != nil {
		t.Fatal(err)
	}
}

func mustReport(t *testing.T, st *store.Store, id int64) *store.Report {
	t.Helper()
	r, err := st.GetReport(context.Background(), id)
	if err != nil {
		t.Fatalf("report %d: %v", id, err)
	}
	return r
}

func sumValues(t *testing.T, st *store.Store, where string, args ...any) (sum, n int64) {
	t.Helper()
	err := st.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(value), 0)::bigint, count(*) FROM events WHERE `+where, args...).Scan(&sum, &n)
	if err != nil {
		t.Fatal(err)
	}
	return sum, n
}

// allFrom and allTo cover every report and event of a test.
var allFrom, allTo = time.Unix(0, 0), time.Now().AddDate(10, 0, 0)
