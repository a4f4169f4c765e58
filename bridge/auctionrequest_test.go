package bridge

import (
	"context"
	"testing"

	"github.com/adshares/dsp-bridge/inventory"
)

// auctionRequest of one slot is one allocation (the request and its slot),
// and keeps every slot of a call of several, in order, with its creative.
func TestAuctionRequestSlots(t *testing.T) {
	cfg := auctionConfig(testDSP("a", "http://127.0.0.1:1"))
	catalog, err := inventory.NewCatalog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := NewBidHandler(nil, catalog, discard)
	ctx := context.Background()
	for _, creatives := range [][]string{{creativePNG}, {creativePNG, "no-such-creative", creativeJPEG}} {
		call, err := ParseBidCall([]byte(simpleBid(creatives...)))
		if err != nil {
			t.Fatal(err)
		}
		req := h.auctionRequest(ctx, call)
		var want []string
		for _, c := range creatives {
			if _, ok := catalog.Lookup(c); ok {
				want = append(want, c)
			}
		}
		if len(req.Slots) != len(want) || req.Site.Domain != call.Site.Domain {
			t.Fatalf("%v: slots %+v", creatives, req.Slots)
		}
		for i, s := range req.Slots {
			if s.CreativeID != want[i] || s.Creative == nil || s.Creative.ID != want[i] {
				t.Errorf("%v: slot %d is %+v, want creative %s", creatives, i, s, want[i])
			}
		}
		req.Slots = append(req.Slots, req.Slots[0]) // capped: never into what follows
	}
	call, _ := ParseBidCall([]byte(simpleBid(creativePNG)))
	if n := testing.AllocsPerRun(100, func() { h.auctionRequest(ctx, call) }); n != 1 {
		t.Errorf("auctionRequest of one slot: %v allocs, want 1", n)
	}
}
