package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// noon is the middle of the partition that holds the partition tests' rows.
var noon = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// partitionedDB has daily partitions of every partitioned table from the
// day before noon's to two days after.
func partitionedDB(t *testing.T) *store.Store {
	t.Helper()
	st := testdb.New(t)
	for _, table := range store.PartitionedTables {
		if _, err := st.EnsurePartitions(context.Background(), table, noon.AddDate(0, 0, -1), noon.AddDate(0, 0, 2), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// stalePartitions are lists a store may hold after the catalog changed: a
// partition that is gone, and a real one remembered with other bounds.
func stalePartitions(table string) map[string][]store.Partition {
	day := noon.Truncate(24 * time.Hour)
	return map[string][]store.Partition{
		"a partition that is gone": {{Table: table, Name: table + "_gone", From: day, To: day.AddDate(0, 0, 1)}},
		"the next day's partition, remembered with this day's bounds": {
			{Table: table, Name: store.PartitionName(table, day.AddDate(0, 0, 1)), From: day, To: day.AddDate(0, 0, 1)}},
	}
}

// GetAuctions reads a win from its partition by name; a win near a
// partition's edge, one without a time in its ext_id and any a stale
// list of partitions sends to the wrong table are still found.
func TestGetAuctionsOnNamedPartitions(t *testing.T) {
	ctx := context.Background()
	st := partitionedDB(t)
	mid, edge := store.NewExtID(noon), store.NewExtID(noon.Add(11*time.Hour+50*time.Minute))
	plain := "plain-ext-id"
	var wins []store.Auction
	for _, w := range []struct {
		ext string
		at  time.Time
	}{{mid, noon}, {edge, noon.Add(11*time.Hour + 50*time.Minute)}, {plain, noon}} {
		wins = append(wins, store.Auction{ExtID: w.ext, AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha",
			PriceMicros: 1_000_000, BURL: "http://127.0.0.1:1/b?" + w.ext, CreatedAt: w.at})
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		t.Helper()
		got, err := st.GetAuctions(ctx, []string{mid, edge, plain, "nosuch"})
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{mid, edge, plain} {
			if a := got[ext]; a == nil || a.BURL != "http://127.0.0.1:1/b?"+ext || a.PriceMicros != 1_000_000 {
				t.Errorf("win %s: %+v", ext, a)
			}
		}
		if len(got) != 3 {
			t.Errorf("%d wins, want 3 (no nosuch)", len(got))
		}
	}
	before := st.NamedPartitionStatements()
	check(t)
	if st.NamedPartitionStatements() == before {
		t.Error("no statement named the win's partition")
	}
	for name, parts := range stalePartitions("auctions") {
		t.Run(name, func(t *testing.T) {
			st.RememberPartitions("auctions", parts)
			check(t)
		})
	}
}

// RecordOutcomes records a notice's outcome in its partition by name, and
// with a stale list of partitions on the parent; a notice whose claim was
// taken over is reported lost either way, and nothing is recorded for it.
func TestRecordOutcomesOnNamedPartitions(t *testing.T) {
	ctx := context.Background()
	st := partitionedDB(t)
	const n = 4
	wins := make([]store.Auction, n)
	vs := make([]store.ViewWrite, n)
	for i := range n {
		ext := store.NewExtID(noon)
		wins[i] = store.Auction{ExtID: ext, AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha",
			PriceMicros: 2_000_000, BURL: "http://127.0.0.1:1/b", CreatedAt: noon}
		vs[i] = store.ViewWrite{Event: store.Event{ExtID: ext, CaseID: fmt.Sprintf("%032x", i), Type: "view",
			PriceMicros: 2_000_000, RateNanos: 50_000_000, Value: 4_000_000, CreatedAt: noon.Add(time.Minute), WinAt: noon},
			DSP: "alpha", BURL: "http://127.0.0.1:1/b?" + ext}
	}
	if err := st.InsertAuctions(ctx, wins); err != nil {
		t.Fatal(err)
	}
	lease := store.NoticeLease{Token: "tok", For: time.Hour}
	recs, err := st.RecordViewsLeased(ctx, vs, lease)
	if err != nil {
		t.Fatal(err)
	}
	notices := make([]store.Notice, n)
	for i, r := range recs {
		ns := vs[i].LeasedNotices(r, lease.Token)
		if len(ns) != 1 {
			t.Fatalf("view %d: notices %+v", i, ns)
		}
		notices[i] = ns[0]
	}
	delivered := func(nt store.Notice) store.Outcome {
		return store.Outcome{Notice: nt, Status: store.NoticeDelivered, At: noon.Add(2 * time.Minute), HTTPStatus: 200, Attempted: true}
	}
	status := func(t *testing.T, nt store.Notice) string {
		t.Helper()
		rows, err := st.NoticesOf(ctx, nt.ExtID)
		if err != nil || len(rows) != 1 {
			t.Fatalf("notices of %s: %+v %v", nt.ExtID, rows, err)
		}
		return rows[0].Status
	}

	taken := notices[3]
	taken.Claim = "another worker's"
	before := st.NamedPartitionStatements()
	lost, err := st.RecordOutcomes(ctx, []store.Outcome{delivered(notices[0]), delivered(taken)})
	if err != nil || len(lost) != 1 || lost[0] != taken.ID {
		t.Fatalf("lost %v, %v; want only %d", lost, err, taken.ID)
	}
	if st.NamedPartitionStatements() == before {
		t.Error("no statement named the notice's partition")
	}
	if s := status(t, notices[0]); s != store.NoticeDelivered {
		t.Errorf("notice recorded in its partition: %s", s)
	}
	if s := status(t, taken); s != store.NoticePending {
		t.Errorf("notice whose claim was taken over: %s, want still pending", s)
	}
	i := 1
	for name, parts := range stalePartitions("outbox") {
		t.Run(name, func(t *testing.T) {
			st.RememberPartitions("outbox", parts)
			nt := notices[i]
			i++
			lost, err := st.RecordOutcomes(ctx, []store.Outcome{delivered(nt), delivered(taken)})
			if err != nil || len(lost) != 1 || lost[0] != taken.ID {
				t.Fatalf("lost %v, %v; want only %d", lost, err, taken.ID)
			}
			if s := status(t, nt); s != store.NoticeDelivered {
				t.Errorf("notice: %s", s)
			}
		})
	}
	if s := status(t, taken); s != store.NoticePending {
		t.Errorf("notice whose claim was taken over: %s, want still pending", s)
	}
}
