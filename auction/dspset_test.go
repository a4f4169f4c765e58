package auction

import (
	"slices"
	"testing"
	"time"
)

func TestReloadKeepsUnchangedDSPsAndSwapsTheRest(t *testing.T) {
	a, err := NewAuctioneer(auctionConfig(testDSP("kept", "http://127.0.0.1:1/a"), testDSP("changed", "http://127.0.0.1:1/b"),
		testDSP("removed", "http://127.0.0.1:1/c")), nopSaver{}, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	before := a.set.Load()
	changed := testDSP("changed", "http://127.0.0.1:1/b")
	changed.Timeout = 100 * time.Millisecond
	cfg := auctionConfig(testDSP("added", "http://127.0.0.1:1/d"), changed, testDSP("kept", "http://127.0.0.1:1/a"))
	cfg.Auction.TMax = 300 * time.Millisecond
	sum, err := a.Reload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Added, []string{"added"}) || !slices.Equal(sum.Changed, []string{"changed"}) ||
		!slices.Equal(sum.Removed, []string{"removed"}) || !slices.Equal(sum.Kept, []string{"kept"}) {
		t.Fatalf("summary %+v", sum)
	}
	after := a.set.Load()
	if a.TMax() != 300*time.Millisecond || after.reserve != 30*time.Millisecond {
		t.Fatalf("tmax %s reserve %s", a.TMax(), after.reserve)
	}
	// Config order of the new set; the kept DSP shares its pool and slots
	// but takes its new position.
	if after.dsps[2].cfg.Name != "kept" || after.dsps[2].transport != before.dsps[0].transport ||
		after.dsps[2].order != 2 || before.dsps[0].order != 0 {
		t.Fatal("unchanged DSP did not keep its client")
	}
	if after.dsps[1].transport == before.dsps[1].transport || after.dsps[1].cfg.Timeout != 100*time.Millisecond {
		t.Fatal("changed DSP kept its old client")
	}
	names := []string{}
	for _, s := range a.DSPStates() {
		names = append(names, s.Name+":"+s.Breaker)
	}
	if !slices.Equal(names, []string{"added:disabled", "changed:disabled", "kept:disabled"}) {
		t.Fatalf("states %v", names)
	}
	// A config the auction cannot use leaves the set alone.
	bad := auctionConfig(testDSP("x", "http://127.0.0.1:1/x"))
	bad.DSPs[0].Currency = "XXX" // no money.rates.XXX
	if _, err := a.Reload(bad); err == nil || a.set.Load() != after {
		t.Fatalf("bad reload: %v, set swapped %v", err, a.set.Load() != after)
	}
}
