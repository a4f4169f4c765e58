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
	since := time.Unix(1699990000, 0)
	claim := func(at time.Time, token string, quota map[string]int) ([]store.Notice, error) {
		got, claimedAt, err := st.ClaimNotices(ctx, store.Claim{Now: at, Lease: time.Minute, Since: since, Token: token, Quota: quota})
		if err == nil && !claimedAt.Equal(at) {
			t.Fatalf("claimed at %s, want the injected %s", claimedAt, at)
		}
		return got, err
	}

	dsps, err := st.PendingDSPs(ctx, since, time.Time{})
	if err != nil || len(dsps) != 1 || dsps[0] != "alpha" {
		t.Fatalf("PendingDSPs = %v, %v", dsps, err)
	}
	// Notices created after until are not looked at (nor claimed: Until).
	if dsps, err := st.PendingDSPs(ctx, since, since.Add(time.Second)); err != nil || len(dsps) != 0 {
		t.Fatalf("PendingDSPs up to a second after since = %v, %v; want none", dsps, err)
	}
	if dsps, err := st.PendingDSPs(ctx, since, now); err != nil || len(dsps) != 1 {
		t.Fatalf("PendingDSPs up to now = %v, %v; want alpha", dsps, err)
	}
	got, err := claim(now, "A", map[string]int{"alpha": 2, "nobody": 5})
	if err != nil || len(got) != 2 {
		t.Fatalf("claim with quota 2 got %d, %v", len(got), err)
	}
	// Claimed rows are leased: a second claim gets only the third.
	rest, err := claim(now, "B", map[string]int{"alpha": 5})
	if err != nil || len(rest) != 1 {
		t.Fatalf("second claim got %d, %v; want 1", len(rest), err)
	}
	// After the lease passes, an unfinished claim comes back to another worker.
	back, err := claim(lease, "C", map[string]int{"alpha": 5})
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
	b, err := st.Backlog(ctx, since)
	if err != nil || b.Pending != 1 || b.Retrying != 1 || b.OldestPending == nil {
		t.Fatalf("backlog = %+v, %v", b, err)
	}
}

// Without an injected time, claims are due and leased by the database's
// clock, and a burst of outcomes is recorded in one statement, refusing the
// ones whose claim was lost.
func TestClaimByDatabaseClockAndBatchedOutcomes(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	dbNow, err := st.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		insertWin(t, st, id)
		ev := view(id, 1)
		ev.CreatedAt = dbNow.Add(-time.Minute) // due by the database's clock
		if _, err := st.RecordView(ctx, ev, "alpha", "http://127.0.0.1:1/"+id); err != nil {
			t.Fatal(err)
		}
	}
	since := dbNow.Add(-time.Hour)
	got, at, err := st.ClaimNotices(ctx, store.Claim{Lease: time.Hour, Since: since, Token: "T", Quota: map[string]int{"alpha": 3}})
	if err != nil || len(got) != 3 || at.Before(dbNow) || at.Sub(dbNow) > time.Minute {
		t.Fatalf("claim by the database clock: %d notices at %s (database now %s), %v", len(got), at, dbNow, err)
	}
	ns, _ := st.NoticesOf(ctx, "b1")
	if lease := ns[0].NextAttempt.Sub(at); lease < time.Hour-time.Second || lease > time.Hour+time.Second {
		t.Fatalf("lease ends %s after the claim, want 1h", lease)
	}
	stale := got[2]
	stale.Claim = "someone else"
	lost, err := st.RecordOutcomes(ctx, []store.Outcome{
		{Notice: got[0], Status: store.NoticeDelivered, At: at, HTTPStatus: 200, Attempted: true},
		{Notice: got[1], Status: store.NoticePending, Next: at.Add(time.Minute), HTTPStatus: 503, Attempted: true, Reason: "HTTP 503"},
		{Notice: stale, Status: store.NoticeDelivered, At: at, HTTPStatus: 200, Attempted: true},
	})
	if err != nil || len(lost) != 1 || lost[0] != stale.ID {
		t.Fatalf("outcomes: lost %v, %v; want only %d", lost, err, stale.ID)
	}
	stats, _ := st.OutboxStats(ctx, since, dbNow.Add(time.Hour))
	if len(stats) != 1 || stats[0].Delivered != 1 || stats[0].Retrying != 1 || stats[0].Pending != 2 {
		t.Fatalf("stats %+v", stats)
	}
}
