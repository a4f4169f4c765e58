package store

import (
	"testing"
	"time"
)

// TestDecideViews checks the group's own earlier views against the rules
// RecordView applies to stored ones: a later view of a win is a repeat, the
// same case id again is nothing, late only counts for a first view, and an
// earlier view outside a view's look-back range does not count for it.
func TestDecideViews(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	view := func(ext, cid string, at time.Time, late bool) ViewWrite {
		return ViewWrite{Event: Event{ExtID: ext, CaseID: cid, Type: "view", CreatedAt: at, WinAt: at, Late: late}}
	}
	vs := []ViewWrite{
		view("a", "1", now, false),                                       // billed
		view("a", "2", now, false),                                       // repeat of the group's first
		view("a", "1", now, false),                                       // the same case id again: nothing
		view("b", "1", now, true),                                        // late
		view("b", "2", now, true),                                        // a repeat of the late one (repeat wins)
		view("c", "1", now, false),                                       // the database had a view of c: repeat
		view("d", "1", now, false),                                       // the database had this very view: nothing
		view("e", "1", now.Add(-48*time.Hour), false),                    // billed
		view("e", "2", now.Add(time.Hour), false),                        // its range starts after e's first view: billed again, as one by one
		view("e", "1", now.Add(-48*time.Hour+time.Microsecond/2), false), // same instant at the database's precision: nothing
	}
	vs[8].Event.WinAt = now
	ps := make([]prior, len(vs))
	ps[5] = prior{seen: true}
	ps[6] = prior{seen: true, dup: true}
	got := decideViews(vs, viewWindows(vs), ps)
	want := decisions{{}, {reason: UnbilledRepeat}, {dup: true}, {reason: UnbilledLate}, {reason: UnbilledRepeat},
		{reason: UnbilledRepeat}, {dup: true}, {}, {}, {dup: true}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("view %d (%s/%s): got %+v, want %+v", i, vs[i].Event.ExtID, vs[i].Event.CaseID, got[i], want[i])
		}
	}
	if n := got.fresh(); n != 7 {
		t.Errorf("fresh = %d, want 7", n)
	}
	args := insertArgs(vs, got)
	if idx := args[0].([]int32); len(idx) != 7 || idx[1] != 1 || idx[6] != 8 {
		t.Errorf("inserted views %v", idx)
	}
}
