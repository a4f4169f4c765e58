package retention_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/payments"
	"github.com/adshares/dsp-bridge/retention"
	"github.com/adshares/dsp-bridge/store"
)

// growthWins is how many wins the growth test spreads over its 30 days,
// by default 200 000 (with their views and notices, 550 000 rows): a month
// of traffic at 1/19 000 of 1,000 auctions/s, small enough to load and
// settle in about a minute on a busy 2-core machine.
// BRIDGE_GROWTH_WINS=800000 gives the 2.2 million rows the sizes in the
// README were measured with.
func growthWins(t *testing.T) int {
	if s := os.Getenv("BRIDGE_GROWTH_WINS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 30*24 {
			t.Fatalf("BRIDGE_GROWTH_WINS=%q: want a number of at least 720", s)
		}
		return n
	}
	return 200_000
}

// TestAMonthOfTraffic loads 30 simulated days of wins, views (85 % of wins
// viewed, 5 % viewed twice) and burl notices (1 % undelivered) with
// realistic row widths, settles every daily report with the real settler
// (in chunks of 5000 views), and runs retention at the end of day 30 with retention.wins 3 days,
// retention.events 10 days and payments.window 5 days. Expired partitions
// are gone, the reports of the window keep every detail, `payments verify`
// passes, and the sizes measured are extrapolated to 1,000 auctions/s.
func TestAMonthOfTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("loads two million rows")
	}
	ctx := context.Background()
	st := testdb.New(t)
	day0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return day0.AddDate(0, 0, n) }
	const days = 30
	for _, table := range store.PartitionedTables {
		if _, err := st.EnsurePartitions(ctx, table, day(0), day(days), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	n := growthWins(t)
	step := float64(days*24*3600) / float64(n) // seconds between wins
	for _, sql := range []string{
		`INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id, price_micros, bid_currency, bid_price,
				nurl, burl, click_url, adomain, created_at)
			SELECT 'w' || substr(md5(g::text), 1, 28), md5('a' || g), (g % 3)::text, '9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b', 'dsp' || (g % 3),
				'seat-1', 'bid-' || g, 'ad-' || (g % 97), 500000 + (g::bigint * 7919) % 2500000, 'USD', '1.25',
				'https://dsp' || (g % 3) || '.example.com/win?price=${AUCTION_PRICE}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&c=' || md5('n' || g),
				'https://dsp' || (g % 3) || '.example.com/bill?price=${AUCTION_PRICE}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&c=' || md5('b' || g),
				'', 'advertiser.example', $1::timestamptz + g * $2 * interval '1 second'
			FROM generate_series(0, $3::int - 1) g`,
		// The billed view of 85 % of the wins, 2 s after the win.
		`INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id, dsp, price_micros, rate_nanos, value, created_at)
			SELECT ext_id, md5('c' || ext_id), 'view', md5('i' || ext_id), md5('z' || right(ext_id, 2)), md5('p' || right(ext_id, 1)), dsp,
				price_micros, 50000000, div(price_micros::numeric * 100000000000, 50000000)::bigint, created_at + interval '2 seconds'
			FROM auctions WHERE ('x' || right(auction_id, 2))::bit(8)::int % 20 < 17`,
		// A second case of 5 % of them: stored, not billed.
		`INSERT INTO events (ext_id, case_id, type, impression_id, zone_id, publisher_id, dsp, price_micros, rate_nanos, value, unbilled_reason, created_at)
			SELECT ext_id, md5('d' || ext_id), 'view', md5('j' || ext_id), md5('z' || right(ext_id, 2)), md5('p' || right(ext_id, 1)), dsp,
				price_micros, 50000000, 0, 'repeat', created_at + interval '5 seconds'
			FROM auctions WHERE ('x' || right(auction_id, 2))::bit(8)::int % 20 = 0`,
		// The burl of every billed view; 1 % never delivered.
		`INSERT INTO outbox (ext_id, event_id, event_at, dsp, kind, url, status, attempts, next_attempt_at, last_status, created_at,
				delivered_at, billed_value, billed_price_micros)
			SELECT ext_id, id, created_at, dsp, 'burl',
				'https://' || dsp || '.example.com/bill?price=1.25&auction=' || md5('a' || id) || '&imp=0&bid=bid-' || id || '&c=' || md5('b' || id),
				CASE WHEN id % 100 = 0 THEN 'undelivered' ELSE 'delivered' END, 1, created_at, 200, created_at,
				CASE WHEN id % 100 = 0 THEN NULL ELSE created_at + interval '80 ms' END, value, price_micros
			FROM events WHERE value > 0`,
	} {
		var args []any
		if len(args) == 0 && sqlHasParams(sql) {
			args = []any{day0, step, n}
		}
		if _, err := st.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	loaded := time.Since(began)

	// Every daily report settled, as the bridge does it, 5000 views per
	// transaction.
	end := day(days).Add(time.Hour)
	settler := payments.NewSettler(st, config.Payments{Period: 24 * time.Hour, SettleAfter: 10 * time.Minute,
		Window: 5 * 24 * time.Hour, SettleChunk: 5000}, quiet)
	settler.Now = func() time.Time { return end }
	if err := st.RecordInventoryFetch(ctx, day0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureFirstStart(ctx, day0); err != nil {
		t.Fatal(err)
	}
	reports, err := settler.Tick(ctx)
	if err != nil || len(reports) != days {
		t.Fatalf("settled %d reports, %v; want %d", len(reports), err, days)
	}
	settled := time.Since(began) - loaded
	if _, err := st.Pool.Exec(ctx, `ANALYZE auctions, events, outbox`); err != nil {
		t.Fatal(err)
	}
	var wins, events, notices, billedSum int64
	st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM auctions), (SELECT count(*) FROM events), (SELECT count(*) FROM outbox),
		(SELECT sum(value) FROM events)`).Scan(&wins, &events, &notices, &billedSum)
	before, err := st.TableSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var reportSum int64
	for _, r := range reports {
		reportSum += *r.Value
	}
	if reportSum != billedSum {
		t.Fatalf("reports add up to %d clicks, the billed views to %d", reportSum, billedSum)
	}

	keeper := &retention.Keeper{Store: st, Log: quiet, Every: time.Minute, Now: func() time.Time { return end },
		Policy: retention.Policy{Wins: 3 * 24 * time.Hour, Events: 10 * 24 * time.Hour, Interval: 24 * time.Hour,
			Window: 5 * 24 * time.Hour, Period: 24 * time.Hour, SettleAfter: 10 * time.Minute, NoticeMaxAge: 24 * time.Hour}}
	dropped := map[string]int{}
	keeper.Observe = func(table string) { dropped[table]++ }
	if plan, err := keeper.Plan(ctx, end); err == nil {
		var buf bytes.Buffer
		retention.WriteStatus(&buf, keeper.NewStatus(plan, end), "table")
		t.Logf("bridge retention status, before the run:\n%s", buf.String())
	}
	res, err := keeper.RunOnce(ctx)
	if err != nil || !res.Ran || len(res.Failures) > 0 || len(res.Blocked) > 0 {
		t.Fatalf("retention: %+v %v", res, err)
	}
	// A partition [d, d+1 day) goes once its end is its retention older
	// than now (day 30, 01:00): wins of days 0..26, events and notices of
	// days 0..19 (their reports done and outside the 5-day window).
	keptFrom := map[string]time.Time{"auctions": day(27), "events": day(20), "outbox": day(20)}
	for table, from := range keptFrom {
		parts, err := st.Partitions(ctx, table)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if !p.Default && p.From.Before(from) {
				t.Errorf("%s: expired partition %s still there", table, p.Name)
			}
		}
		if want := int(from.Sub(day0) / (24 * time.Hour)); dropped[table] != want {
			t.Errorf("%s: %d partitions dropped, want %d", table, dropped[table], want)
		}
		var oldest time.Time
		st.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT min(created_at) FROM %s`, table)).Scan(&oldest)
		if oldest.Before(from) {
			t.Errorf("%s: a row of %s is left", table, oldest)
		}
	}
	// The reports of payments.window keep every detail, page by page.
	windowStart := end.Add(-5 * 24 * time.Hour)
	listed, err := st.ListReports(ctx, windowStart, end)
	if err != nil || len(listed) < 5 {
		t.Fatalf("reports of the window: %d, %v", len(listed), err)
	}
	for _, r := range listed {
		if r.PeriodEnd.After(day(days)) {
			continue // day 31's first hour: still open
		}
		if r.DetailsDroppedAt != nil {
			t.Fatalf("report %d of the window lost details", r.ID)
		}
		var sum int64
		var n int64
		for off := int64(0); ; off += payments.MaxLimit {
			rows, err := st.ReportDetails(ctx, &r, payments.MaxLimit, off)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range rows {
				sum += d.Value
			}
			n += int64(len(rows))
			if len(rows) < payments.MaxLimit {
				break
			}
		}
		if r.Status != store.StatusDone || sum != *r.Value || n != r.Views {
			t.Fatalf("report %d: %d details adding up to %d, report says %d views, %v", r.ID, n, sum, r.Views, r.Value)
		}
	}
	// payments verify, over everything: the reports still whole are
	// recomputed and agree; those retention took rows from are archived.
	mm, ver, err := st.VerifyPayments(ctx, day0, end)
	if err != nil || len(mm) != 0 {
		t.Fatalf("payments verify after retention: %+v %v", mm, err)
	}
	// Days 0..19 lost their rows; days 20..29 and the open day 30 are whole.
	if ver.Archived != 20 || ver.Reports != 11 {
		t.Fatalf("verify: %+v", ver)
	}
	after, _ := st.TableSizes(ctx)
	logSizes(t, wins, events, notices, before, after, loaded, settled)
}

func sqlHasParams(sql string) bool {
	for i := 0; i+1 < len(sql); i++ {
		if sql[i] == '$' && sql[i+1] >= '1' && sql[i+1] <= '9' {
			return true
		}
	}
	return false
}

// logSizes prints the measured sizes and what they mean at 1,000 /bid
// calls a second with 1.5 wins each (130 M wins a day), 85 % viewed: a
// month of it, with retention.wins 7 days and events kept the whole month.
func logSizes(t *testing.T, wins, events, notices int64, before, after []store.TableSize, loaded, settled time.Duration) {
	rows := map[string]int64{"auctions": wins, "events": events, "outbox": notices}
	perDay := map[string]float64{"auctions": 1000 * 1.5 * 86400}
	perDay["events"] = perDay["auctions"] * float64(events) / float64(wins)
	perDay["outbox"] = perDay["auctions"] * float64(notices) / float64(wins)
	keptDays := map[string]float64{"auctions": 7 + 1, "events": 30, "outbox": 30} // a win partition lives up to a day past retention.wins
	t.Logf("loaded %d wins, %d events, %d notices in %s; 30 daily reports settled in %s", wins, events, notices,
		loaded.Round(time.Millisecond), settled.Round(time.Millisecond))
	var total float64
	for i, b := range before {
		perRow := float64(b.Bytes) / float64(rows[b.Table])
		at := perRow * perDay[b.Table] * keptDays[b.Table]
		total += at
		t.Logf("%-8s %9d rows %8s before retention (%3.0f B/row, indexes included), %8s after (%d partitions); "+
			"at 1,000 auctions/s: %.0f M rows/day, %s/day, %s kept (%.0f days)",
			b.Table, rows[b.Table], retention.Bytes(b.Bytes), perRow, retention.Bytes(after[i].Bytes), after[i].Partitions,
			perDay[b.Table]/1e6, retention.Bytes(int64(perRow*perDay[b.Table])), retention.Bytes(int64(at)), keptDays[b.Table])
	}
	t.Logf("a month at 1,000 auctions/s: %s on disk for auctions, events and outbox", retention.Bytes(int64(total)))
}
