package auction

import (
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/internal/testcfg"
	"github.com/adshares/dsp-bridge/internal/testclock"
)

// The bridge's own schain obeys the SupplyChain object rules, and the
// checker refuses every broken form.
func TestSupplyChainFollowsTheSpec(t *testing.T) {
	cfg := auctionConfig()
	cfg.SupplyChain = config.SupplyChain{ASI: "bridge.example.org", SID: "0001-00000005-CBCA", Complete: 1}
	s := newSupply(cfg)
	sc := s.schain("auction-7")
	if why := validSChain(sc); why != "" {
		t.Fatalf("the bridge's schain is invalid: %s (%+v)", why, sc)
	}
	if sc.Ver != "1.0" || sc.Complete != 1 || len(sc.Nodes) != 1 || sc.Nodes[0].RID != "auction-7" || sc.Nodes[0].SID != "0001-00000005-CBCA" {
		t.Fatalf("schain %+v", sc)
	}
	cfg.SupplyChain.ASI = ""
	if s := newSupply(cfg); s.schain("x") != nil {
		t.Fatal("without supply_chain.asi no schain is sent")
	}

	hp := int8(1)
	zero := int8(0)
	broken := map[string]func(){
		"complete 2":      func() { sc.Complete = 2 },
		"no ver":          func() { sc.Ver = "" },
		"no nodes":        func() { sc.Nodes = nil },
		"asi not domain":  func() { sc.Nodes[0].ASI = "https://bridge.example.org/" },
		"empty sid":       func() { sc.Nodes[0].SID = "" },
		"sid over 64":     func() { sc.Nodes[0].SID = string(make([]byte, 65)) },
		"hp missing":      func() { sc.Nodes[0].HP = nil },
		"hp 0 in ver 1.0": func() { sc.Nodes[0].HP = &zero },
	}
	for name, breakIt := range broken {
		cfg.SupplyChain.ASI = "bridge.example.org"
		fresh := newSupply(cfg)
		sc = fresh.schain("a")
		sc.Nodes[0].HP = &hp
		breakIt()
		if validSChain(sc) == "" {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTruncateIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":               "203.0.113.0",
		"2001:db8:abcd:12ff:1:2:3:4": "2001:db8:abcd:1200::",
		"::ffff:203.0.113.77":        "203.0.113.0", // an IPv4-mapped address is IPv4
		"not an ip":                  "",
		"":                           "",
		"2001:db8:abcd:12ff::1%eth0": "2001:db8:abcd:1200::",
	} {
		if got := truncateIP(in); got != want {
			t.Errorf("truncateIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBlockListsMatchParentsSubdomainsAndURLs(t *testing.T) {
	b := newBlockLists(config.Blocking{Presets: []string{"mopub"}, BAdv: []string{"Spam.Example"}},
		config.Blocking{BCat: []string{"iab3"}, BAttr: []int{6}})
	cases := []struct {
		name string
		hit  bool
		got  func() bool
	}{
		{"preset tier-2", true, func() bool { _, ok := b.blockedCategory([]string{"iab7-39"}); return ok }},
		{"own tier-1 blocks its tier-2", true, func() bool { _, ok := b.blockedCategory([]string{"IAB3-4"}); return ok }},
		{"a sibling tier-2 passes", false, func() bool { _, ok := b.blockedCategory([]string{"IAB7-38", "IAB12"}); return ok }},
		{"a tier-1 parent of a blocked tier-2 passes", false, func() bool { _, ok := b.blockedCategory([]string{"IAB7"}); return ok }},
		{"advertiser subdomain as a URL", true, func() bool { _, ok := b.blockedAdvertiser([]string{"https://www.Shop.spam.example/x?y"}); return ok }},
		{"advertiser lookalike passes", false, func() bool { _, ok := b.blockedAdvertiser([]string{"notspam.example"}); return ok }},
		{"attribute", true, func() bool { _, ok := b.blockedAttribute([]int64{1, 6}); return ok }},
		{"other attribute", false, func() bool { _, ok := b.blockedAttribute([]int64{2}); return ok }},
	}
	for _, c := range cases {
		if c.got() != c.hit {
			t.Errorf("%s: blocked = %v, want %v", c.name, !c.hit, c.hit)
		}
	}
}

// A DSP over its qps is not asked (skipped_qps); the others are asked and
// win as usual. The bucket runs on the test's clock: no sleeping.
func TestDSPOverItsQPSIsSkippedAndTheRestUnaffected(t *testing.T) {
	capped := sim(t, dspsim.Options{Price: "3.00"})
	free := sim(t, dspsim.Options{Price: "1.00"})
	c := testDSP("capped", capped.Endpoint())
	c.QPS = 2 // a burst of 2, then one every 500ms
	cfg := auctionConfig(c, testDSP("free", free.Endpoint()))
	clock := testclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	e := newEnv(t, cfg)
	e.a.now = clock.Now

	winners := func() (string, Outcome) {
		res := e.run(e.request(creativePNG))
		if len(res.Wins) != 1 {
			t.Fatalf("wins %+v (%s)", res.Wins, res.Outcome)
		}
		return res.Wins[0].DSP, outcomeOf(res, "capped")
	}
	for i, want := range []struct {
		advance time.Duration
		winner  string
		capped  Outcome
	}{
		{0, "capped", OutcomeBid}, {0, "capped", OutcomeBid}, // the burst
		{0, "free", OutcomeSkippedQPS}, {100 * time.Millisecond, "free", OutcomeSkippedQPS},
		{400 * time.Millisecond, "capped", OutcomeBid}, // 500ms after the burst: one token
		{0, "free", OutcomeSkippedQPS},
	} {
		clock.Add(want.advance)
		winner, outcome := winners()
		if winner != want.winner || outcome != want.capped {
			t.Fatalf("auction %d: winner %s, capped %s; want %s, %s", i, winner, outcome, want.winner, want.capped)
		}
	}
	if capped.RequestCount() != 3 || free.RequestCount() != 6 {
		t.Fatalf("requests: capped %d (want 3), free %d (want 6)", capped.RequestCount(), free.RequestCount())
	}
	st := e.a.DSPStates()
	if st[0].QPS != 2 || st[0].SkippedQPS != 3 || st[1].SkippedQPS != 0 {
		t.Fatalf("dsp states %+v", st)
	}
	r := e.obs.last(t).DSPs
	if r[0].DSP != "capped" || r[0].Reason != ReasonSkippedQPS || r[0].Reason.String() != "skipped_qps" {
		t.Fatalf("dsp results %+v", r)
	}
}

// Crawlers and visitors below traffic.min_human_score reach no DSP and are
// counted as their own auction outcome; a score at the threshold, or none,
// passes; 0 turns the score check off.
func TestInvalidTrafficCallsNoDSP(t *testing.T) {
	s := sim(t, dspsim.Options{})
	e := newEnv(t, auctionConfig(testDSP("d", s.Endpoint())))
	score := func(f float64) *float64 { return &f }
	cases := []struct {
		name    string
		crawler bool
		score   *float64
		why     string
	}{
		{"crawler", true, score(0.9), "crawler"},
		{"low score", false, score(0.39), "human_score"},
		{"at the threshold", false, score(0.4), ""},
		{"no score", false, nil, ""},
	}
	for _, c := range cases {
		before := s.RequestCount()
		req := e.request(creativePNG)
		req.Device.Crawler, req.User.HumanScore = c.crawler, c.score
		res := e.run(req)
		called := s.RequestCount() - before
		if c.why != "" && (res.Outcome != AuctionInvalidTraffic || res.InvalidTraffic != c.why || called != 0 || len(res.DSPs) != 0) {
			t.Errorf("%s: outcome %s/%s, DSP called %d times; want invalid_traffic/%s and no call", c.name, res.Outcome, res.InvalidTraffic, called, c.why)
		}
		if c.why == "" && (res.Outcome != AuctionWon || called != 1) {
			t.Errorf("%s: outcome %s, DSP called %d times; want a normal auction", c.name, res.Outcome, called)
		}
	}
	cfg := auctionConfig(testDSP("d", s.Endpoint()))
	cfg.Traffic.MinHumanScore = 0
	off := newEnv(t, cfg)
	req := off.request(creativePNG)
	req.User.HumanScore = score(0.01)
	if res := off.run(req); res.Outcome != AuctionWon {
		t.Fatalf("min_human_score 0 must disable the check: %s", res.Outcome)
	}
}

// dsps[].only: a DSP is asked only for what it buys; a request it buys
// nothing of costs it no call and no qps token.
func TestOnlyFilters(t *testing.T) {
	s := sim(t, dspsim.Options{})
	d := testDSP("video-de", s.Endpoint())
	d.Only = config.DSPOnly{Types: []string{"video"}, Countries: []string{"DE"}, Devices: []string{"desktop"}}
	d.QPS = 1
	e := newEnv(t, auctionConfig(d))
	req := e.request(creativePNG, testcfg.CreativeVideo)
	req.Device.Country, req.Device.Type = "DEU", 2
	res := e.run(req)
	if got := s.Requests(); len(got) != 1 || len(got[0].Request.Imp) != 1 || got[0].Request.Imp[0].ID != "1" {
		t.Fatalf("the video DSP got %d requests (want 1 with only the video imp)", len(got))
	}
	if len(res.Wins) != 1 || res.Wins[0].RequestID != "1" {
		t.Fatalf("wins %+v", res.Wins)
	}
	for _, change := range []func(r *Request){
		func(r *Request) { r.Device.Country = "POL" },
		func(r *Request) { r.Device.Country = "" }, // unknown does not match a filter
		func(r *Request) { r.Device.Type = 4 },
		func(r *Request) { r.Slots = r.Slots[:1] }, // only the image slot
	} {
		req := e.request(creativePNG, testcfg.CreativeVideo)
		req.Device.Country, req.Device.Type = "DEU", 2
		change(req)
		if res := e.run(req); outcomeOf(res, "video-de") != OutcomeSkippedFilter {
			t.Fatalf("outcome %s, want skipped_filter", outcomeOf(res, "video-de"))
		}
	}
	if s.RequestCount() != 1 || e.a.DSPStates()[0].SkippedFilter != 4 || e.a.DSPStates()[0].SkippedQPS != 0 {
		t.Fatalf("calls %d, states %+v", s.RequestCount(), e.a.DSPStates())
	}
}
