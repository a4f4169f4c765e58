package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// partitionOf returns the partition holding an ext_id's win.
func partitionOf(t *testing.T, st *store.Store, extID string) string {
	t.Helper()
	var name string
	if err := st.Pool.QueryRow(context.Background(), `SELECT tableoid::regclass::text FROM auctions WHERE ext_id = $1`, extID).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestEnsurePartitionsAheadAndForRowsInTheDefault(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	old := time.Date(2024, 3, 10, 15, 0, 0, 0, time.UTC)
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: "old", AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "d",
		PriceMicros: 1, CreatedAt: old}}); err != nil {
		t.Fatal(err)
	}
	if got := partitionOf(t, st, "old"); got != "auctions_default" {
		t.Fatalf("a row without its partition is in %s, want auctions_default", got)
	}
	now := time.Date(2024, 5, 1, 10, 30, 0, 0, time.UTC)
	created, err := st.EnsurePartitions(ctx, "auctions", now, now.Add(48*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range created {
		names = append(names, p.Name)
	}
	want := []string{"auctions_p20240501_0000", "auctions_p20240502_0000", "auctions_p20240503_0000", "auctions_p20240310_0000"}
	if len(names) != len(want) {
		t.Fatalf("created %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("created %v, want %v", names, want)
		}
	}
	// The waiting row moved to its partition, and is still found.
	if got := partitionOf(t, st, "old"); got != "auctions_p20240310_0000" {
		t.Fatalf("row in %s after its partition was created", got)
	}
	if a, err := st.GetAuction(ctx, "old"); err != nil || !a.CreatedAt.Equal(old) {
		t.Fatalf("moved win: %+v %v", a, err)
	}
	again, err := st.EnsurePartitions(ctx, "auctions", now, now.Add(48*time.Hour), 24*time.Hour)
	if err != nil || len(again) != 0 {
		t.Fatalf("second ensure created %v, %v; want nothing", again, err)
	}
	// A new interval starts where the partitions end, on its own grid.
	more, err := st.EnsurePartitions(ctx, "auctions", now, now.Add(96*time.Hour), 12*time.Hour)
	if err != nil || len(more) != 3 || !more[0].From.Equal(time.Date(2024, 5, 4, 0, 0, 0, 0, time.UTC)) ||
		more[0].To.Sub(more[0].From) != 12*time.Hour {
		t.Fatalf("12h partitions after the daily ones: %+v, %v", more, err)
	}
	parts, err := st.Partitions(ctx, "auctions")
	if err != nil || len(parts) != 8 || !parts[len(parts)-1].Default {
		t.Fatalf("partitions: %+v, %v", parts, err)
	}
	for i := 1; i < len(parts)-1; i++ {
		if parts[i].From.Before(parts[i-1].To) {
			t.Fatalf("partitions overlap: %+v", parts)
		}
	}
}

func TestEnsurePartitionsConcurrently(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.EnsurePartitions(ctx, "events", now, now.Add(72*time.Hour), 24*time.Hour)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent ensure: %v", err)
		}
	}
	parts, _ := st.Partitions(ctx, "events")
	if len(parts) != 4 {
		t.Fatalf("%d partitions, want 3 and the default", len(parts))
	}
}

func TestDropPartition(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.EnsurePartitions(ctx, "auctions", now, now.Add(24*time.Hour), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertAuctions(ctx, []store.Auction{{ExtID: "gone", AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "d",
		PriceMicros: 1, CreatedAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	parts, _ := st.Partitions(ctx, "auctions")
	keep := errors.New("still needed")
	err := st.DropPartition(ctx, parts[0], func(context.Context, pgx.Tx) error { return keep })
	if !errors.Is(err, keep) {
		t.Fatalf("refused drop: %v", err)
	}
	if _, err := st.GetAuction(ctx, "gone"); err != nil {
		t.Fatalf("win lost by a refused drop: %v", err)
	}
	if err := st.DropPartition(ctx, parts[1], nil); err == nil {
		t.Fatal("the default partition was dropped")
	}
	if err := st.DropPartition(ctx, parts[0], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetAuction(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("win after its partition was dropped: %v", err)
	}
}

func TestMaintenanceLockIsOneAtATime(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan bool)
	go func() {
		ran, _ := st.WithMaintenanceLock(ctx, func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
		done <- ran
	}()
	<-inside
	if ran, err := st.WithMaintenanceLock(ctx, func(context.Context) error { return nil }); ran || err != nil {
		t.Fatalf("second holder ran %v, %v while the first held the lock", ran, err)
	}
	close(release)
	if !<-done {
		t.Fatal("first holder did not run")
	}
	if ran, err := st.WithMaintenanceLock(ctx, func(context.Context) error { return nil }); !ran || err != nil {
		t.Fatalf("after release: ran %v, %v", ran, err)
	}
}
