package auction

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/config"
)

// admits is the one place that decides whether a DSP is asked at all for
// req: its filters (dsps[].only) first, then its qps cap, so that a
// request the DSP would not get anyway never spends a token. A DSP not
// asked costs the auction nothing.
func (c *dspClient) admits(req *Request) (Reason, bool) {
	if !c.policy.only.admits(req) {
		c.stats.skippedFilter.Add(1)
		return ReasonSkippedFilter, false
	}
	if c.bucket != nil && !c.bucket.take() {
		c.stats.skippedQPS.Add(1)
		return ReasonSkippedQPS, false
	}
	return 0, true
}

// skipped is the result of a DSP that admits did not let through.
func skipped(c *dspClient, reason Reason) DSPResult {
	o := OutcomeSkippedFilter
	if reason == ReasonSkippedQPS {
		o = OutcomeSkippedQPS
	}
	return DSPResult{DSP: c.cfg.Name, Outcome: o, Reason: reason}
}

// dspStats counts what admits decided for one DSP since start (shown in
// /readyz). Kept clients share it across reloads.
type dspStats struct {
	skippedQPS, skippedFilter atomic.Uint64
}

// only is a DSP's dsps[].only, ready to match: a nil map means any.
type only struct {
	sizes, types, countries map[string]bool
	devices                 map[adcom1.DeviceType]bool
	cfg                     config.DSPOnly
}

// onlyDevices maps the AdUser device types of dsps[].only.devices to the
// OpenRTB device types the bridge sends for them (bridge/keywords.go).
var onlyDevices = map[string]adcom1.DeviceType{
	"desktop": adcom1.DevicePC, "mobile": adcom1.DevicePhone, "tablet": adcom1.DeviceTablet, "tv": adcom1.DeviceTV,
}

func newOnly(c config.DSPOnly) only {
	o := only{cfg: c}
	set := func(vals []string, norm func(string) string) map[string]bool {
		if len(vals) == 0 {
			return nil
		}
		m := map[string]bool{}
		for _, v := range vals {
			m[norm(v)] = true
		}
		return m
	}
	o.sizes = set(c.Sizes, strings.ToLower)
	o.types = set(c.Types, strings.ToLower)
	o.countries = set(c.Countries, func(s string) string { iso3, _ := config.CountryISO3(s); return iso3 })
	if len(c.Devices) > 0 {
		o.devices = map[adcom1.DeviceType]bool{}
		for _, d := range c.Devices {
			o.devices[onlyDevices[d]] = true
		}
	}
	return o
}

// fits reports whether a slot of this creative size and type is one the
// DSP buys.
func (o *only) fits(w, h int64, typ string) bool {
	if o.sizes != nil && !o.sizes[strconv.FormatInt(w, 10)+"x"+strconv.FormatInt(h, 10)] {
		return false
	}
	return o.types == nil || o.types[typ]
}

// admits reports whether the DSP buys this request at all: its country and
// device type (an unknown one does not match a filter), and at least one
// slot that fits.
func (o *only) admits(req *Request) bool {
	if o.countries != nil && !o.countries[req.Device.Country] {
		return false
	}
	if o.devices != nil && !o.devices[req.Device.Type] {
		return false
	}
	for _, s := range req.Slots {
		if o.fits(s.Creative.W, s.Creative.H, s.Creative.Type) {
			return true
		}
	}
	return false
}

// offered keeps the imps the DSP buys (the imp's first format is its
// slot's size; its mimes are of the slot's type, see slotMimes).
func (o *only) offered(imps []openrtb2.Imp) []openrtb2.Imp {
	if o.sizes == nil && o.types == nil {
		return imps
	}
	kept := imps[:0]
	for _, imp := range imps {
		if imp.Banner == nil || len(imp.Banner.Format) == 0 {
			continue
		}
		typ := "image"
		if len(imp.Banner.MIMEs) > 0 && strings.HasPrefix(imp.Banner.MIMEs[0], "video/") {
			typ = "video"
		}
		if o.fits(imp.Banner.Format[0].W, imp.Banner.Format[0].H, typ) {
			kept = append(kept, imp)
		}
	}
	return kept
}

// summary is the filters as `dsp probe` and /readyz show them.
func (o *only) summary() string {
	var parts []string
	for _, p := range []struct {
		name string
		vals []string
	}{{"sizes", o.cfg.Sizes}, {"types", o.cfg.Types}, {"countries", o.cfg.Countries}, {"devices", o.cfg.Devices}} {
		if len(p.vals) > 0 {
			parts = append(parts, p.name+" "+strings.Join(p.vals, ","))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// bucket is a token bucket holding up to qps tokens, refilled at qps per
// second: bursts of up to one second's worth pass, and the rate over time
// never exceeds qps. It is kept as a "theoretical arrival time" (GCRA), so
// it needs no timer, and reads its clock through now, which tests move.
type bucket struct {
	mu        sync.Mutex
	interval  time.Duration // between two tokens
	tolerance time.Duration // how far ahead of now tat may run: capacity-1 tokens
	tat       time.Time
	now       func() time.Time
}

// newBucket returns the bucket of a qps cap, or nil for no cap.
func newBucket(qps int, now func() time.Time) *bucket {
	if qps <= 0 {
		return nil
	}
	interval := time.Second / time.Duration(qps)
	return &bucket{interval: interval, tolerance: time.Duration(qps-1) * interval, now: now}
}

// take spends a token, or reports false when there is none.
func (b *bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > b.tolerance {
		return false
	}
	b.tat = tat.Add(b.interval)
	return true
}

// traffic is the invalid-traffic gate of traffic.*.
type traffic struct {
	minHumanScore float64
}

// invalid names why req must not reach any DSP ("crawler", "human_score"),
// or is "". A request without a human score passes: AdUser did not judge it.
func (t traffic) invalid(req *Request) string {
	if req.Device.Crawler {
		return "crawler"
	}
	if t.minHumanScore > 0 && req.User.HumanScore != nil && *req.User.HumanScore < t.minHumanScore {
		return "human_score"
	}
	return ""
}

// clock is the Auctioneer's current time (its now field, which tests may
// replace after the buckets were made).
func (a *Auctioneer) clock() time.Time { return a.now() }
