package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/dspsim"
)

// Profile describes one simulated DSP of the demo.
type Profile struct {
	Name string
	// MinPrice and MaxPrice bound its CPM bids, in micro-USD; each bid's
	// price is drawn from the seed and the impression, in whole cents.
	MinPrice, MaxPrice int64
	// BidPercent is the share of impressions it bids on.
	BidPercent int
	// Latency delays every answer; Timeout is the bridge's timeout for it.
	Latency, Timeout time.Duration
	// FailPercent is the share of bid requests it answers with 500.
	FailPercent int
	// OutageFrom and OutageTo, relative to the start of the traffic, bound a
	// window in which it answers every bid request with 500 (zero: none).
	OutageFrom, OutageTo time.Duration
	// BillFailures makes its first N burl calls answer 503 (the bridge retries).
	BillFailures int
}

// DefaultProfiles are the three DSPs of `bridge demo`: a fast cheap one, a
// slow one, and a high bidder that fails now and then and goes down for a
// while in the middle of the run (its circuit breaker opens).
func DefaultProfiles(duration time.Duration) []Profile {
	return []Profile{
		{Name: "swiftbid", MinPrice: 400_000, MaxPrice: 1_800_000, BidPercent: 95, Latency: 15 * time.Millisecond, Timeout: 300 * time.Millisecond},
		{Name: "deepblue", MinPrice: 800_000, MaxPrice: 2_600_000, BidPercent: 80, Latency: 180 * time.Millisecond, Timeout: 500 * time.Millisecond},
		{Name: "flakyads", MinPrice: 1_000_000, MaxPrice: 3_200_000, BidPercent: 90, Latency: 60 * time.Millisecond, Timeout: 400 * time.Millisecond,
			FailPercent: 10, OutageFrom: duration * 35 / 100, OutageTo: duration * 60 / 100, BillFailures: 3},
	}
}

// DSP is one running simulated DSP and the bids it made.
type DSP struct {
	Profile Profile
	Server  *dspsim.Server

	seed    uint64
	started atomic.Pointer[time.Time] // start of the traffic (outage reference)
	calls   atomic.Int64
	mu      sync.Mutex
	bids    map[string]int64 // auction id + "/" + imp id → bid CPM in micro-USD
	failed  int
}

func startDSP(p Profile, seed uint64) (*DSP, error) {
	s, err := dspsim.Start(dspsim.Options{Latency: p.Latency, BillFailures: p.BillFailures})
	if err != nil {
		return nil, err
	}
	d := &DSP{Profile: p, Server: s, seed: seed, bids: map[string]int64{}}
	s.SetRespond(d.respond)
	return d, nil
}

// BidPrice is the CPM (micro-USD) this DSP bid for an imp of an auction.
func (d *DSP) BidPrice(auctionID, impID string) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.bids[auctionID+"/"+impID]
	return p, ok
}

// Bids is the number of bids this DSP made; Failed the bid requests it
// answered with 500.
func (d *DSP) Bids() (bids, failed int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.bids), d.failed
}

// draw is a number in [0, n) that depends only on the seed, the DSP and
// the impression's AdServer-side content, never on arrival order, so a
// seed gives the same prices whatever the scheduling.
func (d *DSP) draw(n int64, parts ...string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s", d.seed, d.Profile.Name)
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return int64(h.Sum64() % uint64(n))
}

func (d *DSP) inOutage() bool {
	st := d.started.Load()
	if st == nil || d.Profile.OutageTo <= d.Profile.OutageFrom {
		return false
	}
	since := time.Since(*st)
	return since >= d.Profile.OutageFrom && since < d.Profile.OutageTo
}

// respond answers one bid request: 500 when failing, otherwise one bid per
// imp it wants, with nurl/burl on the simulator's /win and /bill.
func (d *DSP) respond(req *openrtb2.BidRequest) (int, []byte) {
	n := d.calls.Add(1)
	var page, ip string
	if req.Site != nil {
		page = req.Site.Page
	}
	if req.Device != nil {
		ip = req.Device.IP + req.Device.IPv6
	}
	if d.inOutage() || d.draw(100, "fail", page, ip, fmt.Sprint(n)) < int64(d.Profile.FailPercent) {
		d.mu.Lock()
		d.failed++
		d.mu.Unlock()
		return http.StatusInternalServerError, []byte(`{"error":"simulated failure"}`)
	}
	type bid struct {
		ID      string      `json:"id"`
		ImpID   string      `json:"impid"`
		Price   json.Number `json:"price"`
		AdID    string      `json:"adid"`
		CrID    string      `json:"crid"`
		NURL    string      `json:"nurl"`
		BURL    string      `json:"burl"`
		ADomain []string    `json:"adomain"`
		W       int64       `json:"w,omitempty"`
		H       int64       `json:"h,omitempty"`
	}
	q := "price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}&auction=${AUCTION_ID}&imp=${AUCTION_IMP_ID}&bid=${AUCTION_BID_ID}&seat=${AUCTION_SEAT_ID}"
	base := d.Server.URL()
	var bids []bid
	d.mu.Lock()
	for _, imp := range req.Imp {
		if d.draw(100, "bid", page, ip, imp.ID) >= int64(d.Profile.BidPercent) {
			continue
		}
		cents := (d.Profile.MaxPrice - d.Profile.MinPrice) / 10_000
		price := d.Profile.MinPrice + d.draw(cents+1, "price", page, ip, imp.ID)*10_000
		d.bids[req.ID+"/"+imp.ID] = price
		b := bid{
			ID: fmt.Sprintf("%s-%d-%s", d.Profile.Name, n, imp.ID), ImpID: imp.ID, Price: json.Number(formatMicros(price)),
			AdID: "ad-" + d.Profile.Name, CrID: "cr-" + d.Profile.Name, NURL: base + "/win?" + q, BURL: base + "/bill?" + q,
			ADomain: []string{d.Profile.Name + ".example"},
		}
		if imp.Banner != nil && len(imp.Banner.Format) > 0 {
			b.W, b.H = imp.Banner.Format[0].W, imp.Banner.Format[0].H
		}
		bids = append(bids, b)
	}
	d.mu.Unlock()
	if len(bids) == 0 {
		return http.StatusNoContent, nil
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{
		"id": req.ID, "bidid": fmt.Sprintf("%s-%d", d.Profile.Name, n), "cur": "USD",
		"seatbid": []any{map[string]any{"seat": d.Profile.Name, "bid": bids}},
	})
	return http.StatusOK, bytes.TrimSpace(out.Bytes())
}

// formatMicros writes micro-USD as a decimal: 1370000 → "1.37".
func formatMicros(m int64) string {
	s := fmt.Sprintf("%d.%06d", m/1_000_000, m%1_000_000)
	for s[len(s)-1] == '0' && s[len(s)-3] != '.' {
		s = s[:len(s)-1]
	}
	return s
}
