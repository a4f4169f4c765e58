package payments

import (
	"context"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestReportLifecycle(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	c := testclock.New(t0.Add(5 * time.Minute))
	s := newSettler(st, time.Hour, 10*time.Minute, c)
	p0, p1, p2 := t0.Unix(), t0.Unix()+3600, t0.Unix()+7200

	early := addViews(t, st,
		view{"alpha", 2_500_000, 50_000_000, t0.Add(time.Minute)},
		view{"beta", 1_234_567, 50_000_000, t0.Add(30 * time.Minute)},
		view{"alpha", 999, 3_000_000_000, t0.Add(3600*time.Second - time.Millisecond)},
	)
	inP1 := addViews(t, st, view{"beta", 700_000, 50_000_000, t0.Add(3601 * time.Second)})

	step := func(at time.Time) []store.Report {
		t.Helper()
		c.Set(at)
		got, err := s.Tick(ctx)
		if err != nil {
			t.Fatalf("tick at %s: %v", at, err)
		}
		return got
	}
	step(t0.Add(5 * time.Minute))
	if r := mustReport(t, st, p0); r.Status != store.StatusProcessing || r.Value != nil {
		t.Fatalf("open period: %+v", r)
	}
	if _, err := st.GetReport(ctx, p1); err != store.ErrNotFound {
		t.Fatalf("future period opened: %v", err)
	}
	// Period over but settle_after not yet passed: still processing.
	step(t0.Add(70*time.Minute - time.Second))
	if r := mustReport(t, st, p0); r.Status != store.StatusProcessing {
		t.Fatalf("settled early: %+v", r)
	}
	if r := mustReport(t, st, p1); r.Status != store.StatusProcessing {
		t.Fatalf("current period: %+v", r)
	}
	settled := step(t0.Add(70 * time.Minute))
	if len(settled) != 1 || settled[0].ID != p0 {
		t.Fatalf("settled %+v, want report %d", settled, p0)
	}
	want, n := sumValues(t, st, "id = ANY($1)", early)
	r0 := mustReport(t, st, p0)
	if r0.Status != store.StatusDone || r0.Value == nil || *r0.Value != want || r0.Views != n || n != 3 {
		t.Fatalf("report %+v, want value %d views %d", r0, want, n)
	}
	if !r0.UpdatedAt.Equal(t0.Add(70 * time.Minute)) {
		t.Fatalf("updated_at %s", r0.UpdatedAt)
	}

	// A view committed late with a timestamp inside the settled period
	// (a slow transaction, a spooled event) never changes the done report:
	// it is swept into the next report settled.
	late := addViews(t, st, view{"alpha", 5_000_000, 50_000_000, t0.Add(59 * time.Minute)})
	step(t0.Add(71 * time.Minute))
	if r := mustReport(t, st, p0); *r.Value != want || r.Views != 3 || !r.UpdatedAt.Equal(r0.UpdatedAt) {
		t.Fatalf("done report changed: %+v", r)
	}
	step(t0.Add(2*time.Hour + 10*time.Minute))
	want1, n1 := sumValues(t, st, "id = ANY($1)", append(inP1, late...))
	if r := mustReport(t, st, p1); r.Status != store.StatusDone || *r.Value != want1 || r.Views != n1 || n1 != 2 {
		t.Fatalf("report %d: %+v, want %d/%d", p1, r, want1, n1)
	}
	// An empty period is still reported, with value 0, so ids stay contiguous.
	step(t0.Add(3*time.Hour + 10*time.Minute))
	if r := mustReport(t, st, p2); r.Status != store.StatusDone || *r.Value != 0 || r.Views != 0 {
		t.Fatalf("empty report: %+v", r)
	}
	list, err := st.ListReports(ctx, t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range list {
		if r.ID != p0+int64(i)*3600 || len(strconv.FormatInt(r.ID, 10)) > 18 {
			t.Fatalf("ids not contiguous: %d at %d", r.ID, i)
		}
	}
	if len(list) != 4 {
		t.Fatalf("%d reports, want 4 (3 settled, 1 open)", len(list))
	}
	if mm, _, err := st.VerifyPayments(ctx, allFrom, allTo); err != nil || len(mm) != 0 {
		t.Fatalf("verify: %v %+v", err, mm)
	}
}

func TestFirstReportStartsAtFirstStartOrOldestView(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	// The auction helper recorded the first start in another format.
	if _, err := st.Pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('first_start', $1)`,
		"2023-03-15T22:20:30+00:00"); err != nil {
		t.Fatal(err)
	}
	c := testclock.New(t0.Add(time.Minute))
	s := newSettler(st, time.Hour, 0, c)
	if _, err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	first := time.Date(2023, 3, 15, 22, 0, 0, 0, time.UTC).Unix() // t0 is 2023-03-16T08:00Z
	list, err := st.ListReports(ctx, time.Unix(0, 0), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 11 || list[0].ID != first || list[len(list)-1].ID != t0.Unix() {
		t.Fatalf("reports from %v", list)
	}
	// An older unsettled view than the first start opens earlier periods.
	st2 := testdb.New(t)
	addViews(t, st2, view{"a", 1_000_000, 1_000_000_000, t0.Add(-5 * time.Hour)})
	s2 := newSettler(st2, time.Hour, 0, c)
	if _, err := s2.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	list, _ = st2.ListReports(ctx, time.Unix(0, 0), t0.Add(time.Hour))
	if len(list) != 6 || list[0].ID != t0.Unix()-5*3600 || *list[0].Value == 0 {
		t.Fatalf("reports %+v", list)
	}
}

func TestReportIDNeverLongerThan18(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	for _, tt := range []struct {
		start int64
		ok    bool
	}{{0, true}, {999_999_999_999_999_999, true}, {1_000_000_000_000_000_000, false}, {-1, false}} {
		id, err := store.ReportID(tt.start)
		if (err == nil) != tt.ok || (tt.ok && len(strconv.FormatInt(id, 10)) > 18) {
			t.Errorf("ReportID(%d) = %d, %v", tt.start, id, err)
		}
	}
	// A clock far in the future makes the settler refuse, not produce one.
	far := time.Unix(1_000_000_000_000_000_000, 0)
	if n, err := st.OpenReports(ctx, time.Second, far.Add(-10*time.Second), far); err == nil || n != 0 {
		t.Fatalf("opened %d reports at %d: %v", n, far.Unix(), err)
	}
	// And the schema refuses one too.
	_, err := st.Pool.Exec(ctx, `INSERT INTO payment_reports (id, period_start, period_end) VALUES (1000000000000000000, now(), now() + interval '1s')`)
	if err == nil {
		t.Fatal("database accepted a 19-digit report id")
	}
	var n int
	st.Pool.QueryRow(ctx, `SELECT count(*) FROM payment_reports`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d reports exist", n)
	}
}

func TestConcurrentSettlersSettleEachPeriodOnce(t *testing.T) {
	url := testdb.URL(t)
	ctx := context.Background()
	open := func() *store.Store {
		st, err := store.Open(ctx, url, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	a, b := open(), open()
	var views []view
	for i := range 400 {
		views = append(views, view{[]string{"x", "y"}[i%2], int64(1000 + i*997), 50_000_000, t0.Add(time.Duration(i) * 100 * time.Millisecond)})
	}
	addViews(t, a, views...)

	c := testclock.New(t0.Add(60 * time.Second))
	sa, sb := newSettler(a, time.Second, 2*time.Second, c), newSettler(b, time.Second, 2*time.Second, c)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for _, s := range []*Settler{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				got, err := s.Tick(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var reports, done int
	a.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'done') FROM payment_reports`).Scan(&reports, &done)
	// Periods t0 .. t0+60 s are open; those ending by t0+58 s are done.
	if reports != 61 || done != 58 {
		t.Fatalf("%d reports, %d done; want 61, 58", reports, done)
	}
	if len(seen) != done {
		t.Fatalf("settlers report %d settled ids, %d are done", len(seen), done)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("report %d settled %d times", id, n)
		}
	}
	var reportSum, eventSum int64
	a.Pool.QueryRow(ctx, `SELECT coalesce(sum(value), 0)::bigint FROM payment_reports`).Scan(&reportSum)
	eventSum, n := sumValues(t, a, "report_id IS NOT NULL")
	all, total := sumValues(t, a, "true")
	if reportSum != eventSum || eventSum != all || n != total || total != 400 {
		t.Fatalf("reports %d, settled events %d (%d), all events %d (%d)", reportSum, eventSum, n, all, total)
	}
	if mm, _, err := a.VerifyPayments(ctx, allFrom, allTo); err != nil || len(mm) != 0 {
		t.Fatalf("verify: %v %+v", err, mm)
	}
}

// TestMoneyProperty: for random prices and rates every per-event value is
// never negative, never above the exact rational value (and less than one
// click below it), and the report's value is exactly their sum, as are the
// details pages.
func TestMoneyProperty(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3} {
		st := testdb.New(t)
		rng := rand.New(rand.NewPCG(seed, seed*7))
		var views []view
		for range 300 {
			price := rng.Int64N(100_000_000) + 1   // up to $100 CPM
			rate := rng.Int64N(20_000_000_000) + 1 // up to $20 per ADS, down to 1 nano-USD
			if rng.IntN(4) == 0 {
				price = rng.Int64N(1000) + 1 // sub-click values round down to 0 clicks
			}
			views = append(views, view{"d", price, rate, t0.Add(time.Duration(rng.Int64N(3600)) * time.Second)})
		}
		var want int64
		for _, v := range views {
			got := ads.ViewValue(v.priceMicros, v.rateNanos)
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(v.priceMicros), big.NewInt(ads.ClicksPerADS)), big.NewInt(v.rateNanos))
			g := new(big.Rat).SetInt64(got)
			if got < 0 || g.Cmp(exact) > 0 || new(big.Rat).Sub(exact, g).Cmp(big.NewRat(1, 1)) >= 0 {
				t.Fatalf("price %d rate %d: value %d vs exact %s", v.priceMicros, v.rateNanos, got, exact.FloatString(3))
			}
			if got > 0 {
				want += got
			}
		}
		// Zero-value views are not billed views; keep only billed ones.
		var billed []view
		for _, v := range views {
			if ads.ViewValue(v.priceMicros, v.rateNanos) > 0 {
				billed = append(billed, v)
			}
		}
		addViews(t, st, billed...)
		c := testclock.New(t0.Add(2 * time.Hour))
		if _, err := newSettler(st, time.Hour, 0, c).Tick(ctx); err != nil {
			t.Fatal(err)
		}
		r := mustReport(t, st, t0.Unix())
		if *r.Value != want || r.Views != int64(len(billed)) {
			t.Fatalf("seed %d: report %d/%d, want %d/%d", seed, *r.Value, r.Views, want, len(billed))
		}
		var pages int64
		for off := int64(0); ; off += 7 {
			rows, err := st.ReportDetails(ctx, r, 7, off)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range rows {
				if d.Value <= 0 {
					t.Fatalf("detail value %d", d.Value)
				}
				pages += d.Value
			}
			if len(rows) < 7 {
				break
			}
		}
		if pages != want {
			t.Fatalf("seed %d: pages sum %d, report %d", seed, pages, want)
		}
	}
}

// TestReportValueNeverOverflows: views whose values sum past the int64 range
// (a tiny money.ads_usd, a huge CPM) must not make settling fail forever
// (every later report would stay processing): a report takes views, oldest
// first, while its value fits, and the rest go to the next report.
func TestReportValueNeverOverflows(t *testing.T) {
	st := testdb.New(t)
	ctx := context.Background()
	c := testclock.New(t0.Add(time.Minute))
	s := newSettler(st, time.Hour, 10*time.Minute, c)
	// 50 USD CPM at 1 nano-USD per ADS: 5e18 clicks each; two exceed int64.
	big := addViews(t, st,
		view{"alpha", 50_000_000, 1, t0.Add(time.Minute)},
		view{"alpha", 50_000_000, 1, t0.Add(2 * time.Minute)},
		view{"beta", 1_000_000, 50_000_000, t0.Add(3 * time.Minute)},
	)
	c.Set(t0.Add(3*time.Hour + 10*time.Minute))
	if _, err := s.Tick(ctx); err != nil {
		t.Fatalf("tick: %v", err)
	}
	var total int64
	for i := range int64(3) {
		r := mustReport(t, st, t0.Unix()+i*3600)
		if r.Status != store.StatusDone || r.Value == nil {
			t.Fatalf("report %d not settled: %+v", r.ID, r)
		}
		sum, n := sumValues(t, st, "report_id = $1", r.ID)
		if sum != *r.Value || n != r.Views {
			t.Fatalf("report %d: value %d views %d, events sum %d count %d", r.ID, *r.Value, r.Views, sum, n)
		}
		total += r.Views
	}
	if total != int64(len(big)) {
		t.Fatalf("%d views settled, want %d", total, len(big))
	}
	if mm, _, err := st.VerifyPayments(ctx, allFrom, allTo); err != nil || len(mm) != 0 {
		t.Fatalf("verify: %v %+v", err, mm)
	}
}
