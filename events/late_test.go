package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// counts records Observe calls.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) observe(typ, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[typ+"/"+result]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// winAt stores a win made at the test clock's now.
func (e *env) winAt(t *testing.T, extID string) {
	t.Helper()
	err := e.st.InsertAuctions(context.Background(), []store.Auction{{ExtID: extID, AuctionID: "auc-" + extID,
		RequestID: "1", CreativeID: "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b", DSP: "sim", BidID: "b-" + extID,
		PriceMicros: 2_500_000, BidCurrency: "USD", BidPrice: "2.5", BURL: e.dsp.URL + "/burl?ext=" + extID, CreatedAt: e.clock.Now()}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLateViewIsStoredNotBilledAndSendsNoBURL(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	var c counts
	e.mod.Observe = c.observe
	e.winAt(t, "ontime")
	e.winAt(t, "late")
	e.clock.Add(23 * time.Hour)
	if code, _ := e.get(t, "/view", "ontime", cid(1)); code != 204 {
		t.Fatalf("view within events.max_view_age = %d", code)
	}
	e.worker.Step(context.Background())
	e.clock.Add(2 * time.Hour) // 25 h after the win
	if code, _ := e.get(t, "/view", "late", cid(2)); code != 204 {
		t.Fatalf("late view = %d, want 204 (stored)", code)
	}
	for range 3 {
		e.worker.Step(context.Background())
	}
	evs, _ := e.st.EventsOf(context.Background(), "late")
	if len(evs) != 1 || evs[0].Value != 0 || evs[0].UnbilledReason != store.UnbilledLate {
		t.Fatalf("late view stored as %+v, want value 0 with reason late", evs)
	}
	if n := e.dsp.count("ext=late"); n != 0 {
		t.Fatalf("late view's burl called %d times", n)
	}
	if n := e.dsp.count("ext=ontime"); n != 1 {
		t.Fatalf("on-time view's burl called %d times, want 1", n)
	}
	if c.get("view/late") != 1 || c.get("view/recorded") != 1 {
		t.Fatalf("counted %v", c.m)
	}
}

// The deadline is per win in code: a bid's own expiry plugs in there.
func TestViewDeadlinePerWin(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	e.mod.ViewDeadline = func(a *store.Auction) time.Time {
		if a.ExtID == "short" {
			return a.CreatedAt.Add(10 * time.Minute)
		}
		return a.CreatedAt.Add(e.mod.MaxViewAge)
	}
	e.winAt(t, "short")
	e.winAt(t, "default")
	e.clock.Add(20 * time.Minute)
	e.get(t, "/view", "short", cid(1))
	e.get(t, "/view", "default", cid(2))
	short, _ := e.st.EventsOf(context.Background(), "short")
	def, _ := e.st.EventsOf(context.Background(), "default")
	if len(short) != 1 || short[0].UnbilledReason != "late" || len(def) != 1 || def[0].Value == 0 {
		t.Fatalf("short %+v, default %+v", short, def)
	}
}

// After retention.wins a view is answered like an unknown extid (even
// while the win's partition still exists), and counted apart.
func TestViewAfterRetentionWinsIsUnknown(t *testing.T) {
	e := newEnv(t, testdb.New(t), nil)
	var c counts
	e.mod.Observe = c.observe
	e.winAt(t, "old")
	gone := store.NewExtID(e.clock.Now()) // a win already dropped with its partition
	e.clock.Add(7*24*time.Hour + time.Minute)
	fresh := store.NewExtID(e.clock.Now()) // never stored
	for _, ext := range []string{"old", gone} {
		if code, body := e.get(t, "/view", ext, cid(1)); code != 404 || body["error"] == nil {
			t.Fatalf("view of %s after retention.wins = %d %v, want 404", ext, code, body)
		}
	}
	if code, _ := e.get(t, "/view", fresh, cid(1)); code != 404 {
		t.Fatalf("view of an unknown ext_id = %d", code)
	}
	if code, _ := e.get(t, "/click", "old", cid(1)); code != 204 {
		t.Fatalf("click after retention.wins = %d, want 204", code)
	}
	if n := e.count(t, "SELECT count(*) FROM events"); n != 0 {
		t.Fatalf("%d events stored for expired wins", n)
	}
	if c.get("view/expired") != 2 || c.get("view/unknown") != 1 || c.get("click/expired") != 1 {
		t.Fatalf("counted %v", c.m)
	}
}
