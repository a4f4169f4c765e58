package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
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
	// Creative is where its bids carry the creative: dspsim.CreativeNURL
	// (default: the nurl answers it), CreativeImage (image markup in adm,
	// bids on image slots only) or CreativeVAST (VAST in adm with a real
	// mp4, bids on video slots only).
	Creative dspsim.CreativeKind
	// BadMarkupPercent of its markup bids carry HTML with a script instead,
	// which the bridge refuses (unrenderable_markup): the next bid wins.
	BadMarkupPercent int
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
		{Name: "pixelpush", MinPrice: 900_000, MaxPrice: 3_000_000, BidPercent: 85, Latency: 25 * time.Millisecond, Timeout: 300 * time.Millisecond,
			Creative: dspsim.CreativeImage, BadMarkupPercent: 10},
		{Name: "vidstream", MinPrice: 1_500_000, MaxPrice: 4_000_000, BidPercent: 90, Latency: 40 * time.Millisecond, Timeout: 300 * time.Millisecond,
			Creative: dspsim.CreativeVAST},
	}
}

// markup reports whether the DSP puts its creative in adm.
func (p Profile) markup() bool { return p.Creative != "" && p.Creative != dspsim.CreativeNURL }

// impressionHit is the endpoint its markup's impression tracker calls.
func (p Profile) impressionHit() dspsim.Hit {
	if p.Creative == dspsim.CreativeVAST {
		return dspsim.HitImpression
	}
	return dspsim.HitPixel
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
	opts := dspsim.Options{Latency: p.Latency, BillFailures: p.BillFailures, Creative: p.Creative,
		ADomain: []string{p.Name + ".example"}}
	if p.Creative == dspsim.CreativeVAST {
		opts.VideoBytes, opts.VideoMime = dspsim.SampleMP4, "video/mp4" // a real 300x250 H.264 file
	}
	s, err := dspsim.Start(opts)
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
		AdM     string      `json:"adm,omitempty"`
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
		// A markup DSP bids on the slots its creative fits: its PNGs on
		// banners that take PNG, VAST on video slots.
		if d.Profile.markup() && !d.fits(&imp) {
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
		if d.Profile.markup() {
			// The nurl is now a win notice, the creative is the markup.
			b.AdM = d.Server.Markup(b.W, b.H, q)
			if d.draw(100, "bad-markup", page, ip, imp.ID) < int64(d.Profile.BadMarkupPercent) {
				b.AdM = `<div><script src="` + base + `/tag.js"></script></div>`
			}
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

// fits reports whether the markup DSP's creative suits the imp, as a DSP
// reading the request would decide.
func (d *DSP) fits(imp *openrtb2.Imp) bool {
	if d.Profile.Creative == dspsim.CreativeVAST {
		return imp.Video != nil
	}
	return imp.Video == nil && imp.Banner != nil && slices.Contains(imp.Banner.MIMEs, "image/png")
}

// formatMicros writes micro-USD as a decimal: 1370000 → "1.37".
func formatMicros(m int64) string {
	s := fmt.Sprintf("%d.%06d", m/1_000_000, m%1_000_000)
	for s[len(s)-1] == '0' && s[len(s)-3] != '.' {
		s = s[:len(s)-1]
	}
	return s
}
