package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestClaimNoticesQuotaLeaseAndToken(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	for _, id := range []string{"n1", "n2", "n3"} {
		insertWin(t, st, id)
		if _, err := st.RecordView(ctx, view(id, 1), "alpha", "http://127.0.0.1:1/"+id); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Unix(1700000100, 0)
	lease := now.Add(time.Minute)

	dsps, err := st.PendingDSPs(ctx)
	if err != nil || len(dsps) != 1 || dsps[0] != "alpha" {
		t.Fatalf("PendingDSPs = %v, %v", dsps, err)
	}
	got, err := st.ClaimNotices(ctx, now, lease, "A", map[string]int{"alpha": 2, "nobody": 5})
	if err != nil || len(got) != 2 {
		t.Fatalf("claim with quota 2 got %d, %v", len(got), err)
	}
	// Claimed rows are leased: a second claim gets only the third.
	rest, err := st.ClaimNotices(ctx, now, lease, "B", map[string]int{"alpha": 5})
	if err != nil || len(rest) != 1 {
		t.Fatalf("second claim got %d, %v; want 1", len(rest), err)
	}
	// After the lease passes, an unfinished claim comes back to another worker.
	back, err := st.ClaimNotices(ctx, lease, lease.Add(time.Minute), "C", map[string]int{"alpha": 5})
	if err != nil || len(back) != 3 {
		t.Fatalf("claim after lease got %d, %v; want 3", len(back), err)
	}
	// The old token can no longer record an outcome.
	if err := st.MarkDelivered(ctx, got[0], now, 200); !errors.Is(err, store.ErrClaimLost) {
		t.Fatalf("stale claim: %v, want ErrClaimLost", err)
	}
	if err := st.MarkDelivered(ctx, back[0], now, 204); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRetry(ctx, back[1], now.Add(time.Hour), 503, "503"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkUndelivered(ctx, back[2], true, 404, "404"); err != nil {
		t.Fatal(err)
	}
	stats, err := st.OutboxStatsByDSP(ctx)
	if err != nil || len(stats) != 1 {
		t.Fatalf("stats %v, %v", stats, err)
	}
	s := stats[0]
	if s.Pending != 1 || s.Retrying != 1 || s.Delivered != 1 || s.Undelivered != 1 || s.AtRiskClicks != 4_000_000 || s.AtRiskNanoUSD != 2_000_000 {
		t.Fatalf("stats = %+v", s)
	}
	b, err := st.Backlog(ctx)
	if err != nil || b.Pending != 1 || b.Retrying != 1 || b.OldestPending == nil {
		t.Fatalf("backlog = %+v, %v", b, err)
	}
}
