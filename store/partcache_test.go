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

// A group's look-up of earlier views names the events partitions it knows
// and the default one; when the catalog has changed since they were read
// (here: a new partition that took the earlier view out of the default
// one), it must still find that view, or the repeat would be billed.
func TestPriorViewsSeeEveryPartition(t *testing.T) {
	ctx := context.Background()
	st := partitionedDB(t)
	later := noon.AddDate(0, 0, 5) // no partition yet: rows go to the default ones
	ext := store.NewExtID(later)
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: ext, AuctionID: "a", RequestID: "0", CreativeID: "c",
		DSP: "alpha", PriceMicros: 2_000_000, BURL: "http://127.0.0.1:1/b", CreatedAt: later}}); err != nil {
		t.Fatal(err)
	}
	view := func(n int) store.ViewWrite {
		return store.ViewWrite{Event: store.Event{ExtID: ext, CaseID: fmt.Sprintf("%032x", n), Type: "view",
			PriceMicros: 2_000_000, RateNanos: 50_000_000, Value: 4_000_000, CreatedAt: later.Add(time.Duration(n) * time.Minute), WinAt: later},
			DSP: "alpha", BURL: "http://127.0.0.1:1/b"}
	}
	// repeat records view n, checks it is an unbilled repeat and says
	// whether the look-up named the partitions.
	repeat := func(t *testing.T, n int) (byName bool) {
		t.Helper()
		before := st.NamedPartitionStatements()
		recs, err := st.RecordViews(ctx, []store.ViewWrite{view(n)})
		if err != nil || len(recs) != 1 {
			t.Fatalf("view %d: %+v %v", n, recs, err)
		}
		if recs[0].Billed || recs[0].Reason != store.UnbilledRepeat {
			t.Errorf("view %d: %+v, want unbilled as a repeat", n, recs[0])
		}
		return st.NamedPartitionStatements() != before
	}
	if recs, err := st.RecordViews(ctx, []store.ViewWrite{view(1)}); err != nil || !recs[0].Billed {
		t.Fatalf("first view: %+v %v", recs, err)
	}
	// A partition after the first view's day, so that the look-up names
	// one besides the default partition, which keeps the first view
	// (EnsurePartitions would move it into a partition of its own).
	next := later.AddDate(0, 0, 1).Truncate(24 * time.Hour)
	if _, err := st.Pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
		store.PartitionName("events", next), next.Format(time.RFC3339), next.AddDate(0, 0, 1).Format(time.RFC3339))); err != nil {
		t.Fatal(err)
	}
	st.CachePartitions("events")
	if !repeat(t, 2) {
		t.Error("a fresh list of partitions was not used by name")
	}
	var inDefault int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM events_default WHERE ext_id = $1`, ext).Scan(&inDefault); err != nil || inDefault != 2 {
		t.Fatalf("%d views in the default partition (%v), want both so far", inDefault, err)
	}
	// The first view's own partition: it moves the views out of the default.
	if _, err := st.EnsurePartitions(ctx, "events", later, later.Add(time.Hour), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM events_default WHERE ext_id = $1`, ext).Scan(&inDefault); err != nil || inDefault != 0 {
		t.Fatalf("%d views still in the default partition (%v): the test needs the first one moved", inDefault, err)
	}
	if repeat(t, 3) {
		t.Error("a look-up on a stale list of partitions was used")
	}
	if !repeat(t, 4) {
		t.Error("the list read again was not used by name")
	}
}
