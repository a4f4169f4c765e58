package auction

import (
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// An append to one slot's formats must not write into the next slot's, nor
// one DSP's currency into another's, nor one DSP's imp into another's.
func TestRequestCopiesShareNothing(t *testing.T) {
	e := newEnvWithSaver(t, auctionConfig(testDSP("a", "http://127.0.0.1:1")), nopSaver{})
	req := e.request(creativePNG, creativeJPEG)
	base := buildRequest("auction-1", req, &supply{})
	w1, h1 := base.Imp[1].Banner.Format[0].W, base.Imp[1].Banner.Format[0].H
	base.Imp[0].Banner.Format = append(base.Imp[0].Banner.Format, openrtb2.Format{W: 1, H: 1})
	if f := base.Imp[1].Banner.Format; len(f) != 1 || f[0].W != w1 || f[0].H != h1 {
		t.Fatalf("slot 1 formats %+v after an append to slot 0's", f)
	}
	d := e.a.set.Load().dsps[0]
	r := d.request(base, 100*time.Millisecond, 0)
	r.Cur = append(r.Cur, "EUR")
	r2 := d.request(base, 100*time.Millisecond, 0)
	if len(r2.Cur) != 1 || r2.Cur[0] != d.cfg.Currency || r.Cur[0] != d.cfg.Currency {
		t.Fatalf("currencies %v %v", r.Cur, r2.Cur)
	}
	if base.Cur != nil {
		t.Fatalf("the base request got a currency: %v", base.Cur)
	}

	// One slot: each DSP's copy has an imp of its own.
	one := buildRequest("auction-2", e.request(creativePNG), &supply{})
	if len(one.Imp) != 1 || cap(one.Imp) != 1 || one.Imp[0].ID != "0" || one.Imp[0].Banner == nil || len(one.Imp[0].Banner.Format) != 1 {
		t.Fatalf("one-slot request %+v", one.Imp)
	}
	r1, r2 := d.request(one, 100*time.Millisecond, 0), d.request(one, 100*time.Millisecond, 0)
	r1.Imp[0].ID = "changed"
	if one.Imp[0].ID != "0" || r2.Imp[0].ID != "0" || len(r1.Imp) != 1 || cap(r1.Imp) != 1 {
		t.Fatalf("a DSP's imp is shared: base %q, other DSP %q", one.Imp[0].ID, r2.Imp[0].ID)
	}
}

// buildRequest of two slots on an https page stays at 15 allocations (a
// banner and a format per slot): a change that adds some shows here.
func TestBuildRequestAllocs(t *testing.T) {
	e := newEnvWithSaver(t, auctionConfig(testDSP("a", "http://127.0.0.1:1")), nopSaver{})
	req := e.request(creativePNG, creativeJPEG)
	sup := &supply{}
	n := testing.AllocsPerRun(100, func() { buildRequest("auction-1", req, sup) })
	t.Logf("buildRequest: %v allocs", n)
	if n > 15 {
		t.Errorf("buildRequest of 2 slots: %v allocs, want at most 15", n)
	}
}
