package auction

import (
	"context"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
)

// Rejections are counted per UTC day, DSP and reason, passed on to the
// metrics, and added to the database; a failed flush keeps its counts.
func TestTallyCountsRejectionsIntoTheDatabase(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	down := testdb.New(t)
	down.Close() // a database that cannot be reached
	inner := &recorder{}
	tl := NewTally(down, inner, discard)
	day := time.Date(2024, 5, 1, 23, 59, 0, 0, time.UTC)
	tl.Now = func() time.Time { return day }
	tl.ObserveRejection(Rejection{DSP: "a", Reason: ReasonUnrenderable})
	tl.ObserveRejection(Rejection{DSP: "a", Reason: ReasonUnrenderable})
	tl.ObserveRejection(Rejection{DSP: "b", Reason: ReasonBelowFloor})
	if err := tl.Flush(ctx); err == nil {
		t.Fatal("a flush into an unreachable database succeeded")
	}
	tl.st = st
	day = day.Add(2 * time.Minute) // the next UTC day
	tl.ObserveRejection(Rejection{DSP: "a", Reason: ReasonUnrenderable})
	if err := tl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(inner.rejected) != 4 {
		t.Fatalf("metrics saw %d rejections, want 4", len(inner.rejected))
	}
	first, _ := st.Rejections(ctx, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
	both, _ := st.Rejections(ctx, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC))
	if first["a"]["unrenderable_markup"] != 2 || first["b"]["below_floor"] != 1 || both["a"]["unrenderable_markup"] != 3 {
		t.Fatalf("stored: first day %v, both days %v", first, both)
	}
	if err := tl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Rejections(ctx, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)); again["a"]["unrenderable_markup"] != 3 {
		t.Fatalf("an empty flush changed the counts: %v", again)
	}
}
