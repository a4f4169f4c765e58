package retention_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/retention"
	"github.com/adshares/dsp-bridge/store"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

var d0 = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

func at(day int, h time.Duration) time.Time { return d0.AddDate(0, 0, day).Add(h) }

func newKeeper(st *store.Store, now *time.Time) *retention.Keeper {
	return &retention.Keeper{Store: st, Log: quiet, Every: time.Minute, Now: func() time.Time { return *now },
		Policy: retention.Policy{Wins: 2 * 24 * time.Hour, Events: 5 * 24 * time.Hour, Interval: 24 * time.Hour,
			Window: 3 * 24 * time.Hour, Period: time.Hour, SettleAfter: 0, NoticeMaxAge: 30 * 24 * time.Hour}}
}

// view stores a win and its billed view (and burl) at t.
func view(t *testing.T, st *store.Store, ext string, t0 time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: ext, AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha",
		PriceMicros: 1000, CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordView(ctx, store.Event{ExtID: ext, CaseID: fmt.Sprintf("%032x", len(ext)), Type: "view", DSP: "alpha",
		PriceMicros: 1000, RateNanos: 50_000_000, Value: 2_000_000, CreatedAt: t0.Add(time.Second), WinAt: t0}, "alpha", "http://127.0.0.1:1/b"); err != nil {
		t.Fatal(err)
	}
}

func verdict(t *testing.T, plan []retention.Verdict, name string) retention.Verdict {
	t.Helper()
	for _, v := range plan {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no partition %s in the plan", name)
	return retention.Verdict{}
}

// Expired by time is not enough: an events partition with a billed view no
// report has taken, or with rows of a report still listed to the AdServer,
// is kept, and so are the notices of its days and any pending notice; once
// the reason is gone a later run drops them.
func TestKeeperKeepsWhatIsStillNeeded(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	now := at(0, 0)
	k := newKeeper(st, &now)
	for _, table := range store.PartitionedTables {
		if _, err := st.EnsurePartitions(ctx, table, at(0, 0), at(12, 0), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for day := range 10 {
		view(t, st, fmt.Sprintf("v%d", day), at(day, 10*time.Hour))
	}
	if _, err := st.OpenReports(ctx, time.Hour, at(0, 0), at(9, 23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	settle := func(day int) {
		t.Helper()
		if _, _, err := st.SettleReport(ctx, at(day, 10*time.Hour).Unix(), now, 0); err != nil {
			t.Fatal(err)
		}
	}
	settle(0)
	settle(1)
	// Day 1's burl is still pending (an undelivered one would not block).
	if _, err := st.Pool.Exec(ctx, `UPDATE outbox SET status = CASE WHEN ext_id = 'v1' THEN 'pending' ELSE 'delivered' END`); err != nil {
		t.Fatal(err)
	}

	expect := func(cases ...[3]string) {
		t.Helper()
		plan, err := k.Plan(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			v := verdict(t, plan, c[0])
			if v.Action != c[1] || !strings.Contains(v.Reason, c[2]) {
				t.Errorf("at %s %s: %s (%s), want %s (%s)", now.Format(time.DateTime), c[0], v.Action, v.Reason, c[1], c[2])
			}
		}
	}
	now = at(9, 12*time.Hour)
	expect(
		[3]string{"auctions_p20240501_0000", retention.ActionDrop, "retention.wins"},
		[3]string{"auctions_p20240507_0000", retention.ActionDrop, "retention.wins"},
		[3]string{"auctions_p20240508_0000", retention.ActionKeep, ""},
		[3]string{"events_p20240501_0000", retention.ActionDrop, "retention.events"},
		[3]string{"events_p20240502_0000", retention.ActionDrop, ""},
		[3]string{"events_p20240503_0000", retention.ActionBlocked, "billed views not in a report yet"},
		[3]string{"events_p20240504_0000", retention.ActionBlocked, "billed views not in a report yet"},
		[3]string{"events_p20240505_0000", retention.ActionKeep, ""},
		[3]string{"outbox_p20240501_0000", retention.ActionDrop, ""},
		[3]string{"outbox_p20240502_0000", retention.ActionBlocked, "pending"},
		[3]string{"outbox_p20240503_0000", retention.ActionBlocked, "events of the same time are kept"},
		[3]string{"events_default", retention.ActionKeep, "default partition"},
	)
	res, err := k.RunOnce(ctx)
	if err != nil || len(res.Dropped) != 7+2+1 || len(res.Blocked) != 5 || len(res.Failures) != 0 {
		t.Fatalf("run: dropped %d, blocked %d, %v, %v", len(res.Dropped), len(res.Blocked), res.Failures, err)
	}

	// Day 7's report takes the stragglers of days 2..7: their partitions
	// now wait for it to leave payments.window. The pending notice of day 1
	// is given up once older than outbox.max_age (and the claims' slack).
	settle(7)
	k.Policy.NoticeMaxAge = time.Hour
	res, err = k.RunOnce(ctx)
	if err != nil || res.Expired != 1 || len(res.Dropped) != 1 || res.Dropped[0].Name != "outbox_p20240502_0000" {
		t.Fatalf("second run: expired %d, dropped %+v, %v", res.Expired, res.Dropped, err)
	}
	expect(
		[3]string{"events_p20240503_0000", retention.ActionBlocked, fmt.Sprintf("report %d inside payments.window", at(7, 10*time.Hour).Unix())},
		[3]string{"outbox_p20240503_0000", retention.ActionBlocked, "events of the same time are kept"},
	)

	now = at(11, 0) // day 7's report has left the window
	res, err = k.RunOnce(ctx)
	if err != nil || len(res.Blocked) != 0 {
		t.Fatalf("run at day 11: %+v %v", res, err)
	}
	for table, from := range map[string]time.Time{"auctions": at(9, 0), "events": at(6, 0), "outbox": at(6, 0)} {
		parts, _ := st.Partitions(ctx, table)
		if parts[0].From.Before(from) {
			t.Errorf("%s: %s still there once nothing needs it", table, parts[0].Name)
		}
	}
	// The reports that lost rows (days 0, 1 and 7) are archived, not
	// recomputed; every other one is, and agrees.
	mm, ver, err := st.VerifyPayments(ctx, at(0, 0), at(10, 0))
	if err != nil || len(mm) != 0 || ver.Archived != 3 || ver.Reports != 10*24-3 {
		t.Fatalf("verify after retention: %+v %+v %v", mm, ver, err)
	}
	r, _ := st.GetReport(ctx, at(7, 10*time.Hour).Unix())
	if r.DetailsDroppedAt == nil || r.Views != 6 || *r.Value != 6*2_000_000 {
		t.Fatalf("archived report keeps its totals: %+v", r)
	}
}

func TestStatusShowsWhatIsDroppedWhen(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	now := at(0, 0)
	k := newKeeper(st, &now)
	if _, err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	view(t, st, "s1", at(0, time.Hour))
	now = at(1, 0)
	plan, err := k.Plan(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := retention.WriteStatus(&buf, k.NewStatus(plan, now), "table"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Logf("bridge retention status:\n%s", out)
	for _, want := range []string{"auctions_p20240501_0000", "2024-05-04T00:00:00+00:00", "events_default", "NEXT DROP", "PARTITIONS UNTIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	buf.Reset()
	if err := retention.WriteStatus(&buf, k.NewStatus(plan, now), "json"); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Tables []struct {
			Table      string
			Partitions int
		}
		Partitions []struct {
			Name   string
			Action string
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &js); err != nil || len(js.Tables) != 3 || js.Tables[0].Partitions != 3 {
		t.Fatalf("json status: %v\n%s", err, buf.String())
	}
}
