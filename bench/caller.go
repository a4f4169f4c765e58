package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/adshares/dsp-bridge/adserversim"
)

// caller is one caller: closed loop (calls again once answered), or with
// pace open loop (calls at each scheduled start it takes).
type caller struct {
	g        *generator
	t        *target
	work     work
	validate bool
	pace     <-chan time.Time // open loop: scheduled starts (nil: closed loop)
	wait     time.Duration    // open loop: how late the current call started
	stop     *atomic.Bool
	prepLeft *atomic.Int64
	rnd      *rand.Rand
	next     int
	fake     uint64

	res      tally
	buf      bytes.Buffer
	fan      []bytes.Buffer
	hdr      http.Header
	entries  []bidEntry
	slots    []int // slot of each entry
	answered []string
	viewed   []EventRec
	clicked  []EventRec
	wins     []win
}

// bidEntry is one entry of a /bid answer.
type bidEntry struct {
	RequestID string `json:"request_id"`
	ExtID     string `json:"ext_id"`
	ServeURL  string `json:"serve_url"`
}

func (c *caller) loop(ctx context.Context, deadline time.Time) {
	for !c.stop.Load() && ctx.Err() == nil && (c.pace != nil || time.Now().Before(deadline)) {
		if c.pace != nil {
			// Open loop: every scheduled call is made, the late ones
			// too, until the schedule (which ends at the deadline) runs out.
			select {
			case at, ok := <-c.pace:
				if !ok {
					return
				}
				c.wait = max(time.Since(at), 0)
			case <-ctx.Done():
				return
			}
		}
		switch {
		case c.work == workViews && c.t.sys != Bridge:
			// The floor answers any ext_id: no pool to use up.
			c.fake++
			c.viewAndClick(win{extID: "floor" + strconv.FormatUint(c.fake, 36)}, false)
		case c.work == workViews:
			w, ok := c.g.pool.take()
			if !ok {
				c.res.Exhausted = true
				c.stop.Store(true)
				return
			}
			c.viewAndClick(w, false)
		case c.work == workPrep && c.prepLeft.Load() <= 0:
			return
		case c.t.sys == Bridge:
			c.bridgeBid()
		default:
			c.floorBid()
		}
	}
}

// queued is, once, how late the current call started after its scheduled
// start (open loop; 0 in closed loop): added to its latency, so that a call
// that waited for a free caller counts the wait, as its visitor would.
func (c *caller) queued() time.Duration {
	w := c.wait
	c.wait = 0
	return w
}

func (c *caller) fail(counter *int64, what string, err error, status int) {
	*counter++
	if c.res.FirstError == "" {
		if err != nil {
			c.res.FirstError = what + ": " + err.Error()
		} else {
			c.res.FirstError = what + ": status " + strconv.Itoa(status) + ": " + string(bytes.TrimSpace(c.buf.Bytes()[:min(c.buf.Len(), 200)]))
		}
	}
}

// do makes one call and reads the whole answer into buf.
func (c *caller) do(client *http.Client, method string, u *url.URL, body []byte, buf *bytes.Buffer) (int, time.Duration, error) {
	req := &http.Request{Method: method, URL: u, Host: u.Host, Header: c.hdr, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		// Lets the transport resend on a kept-alive connection the server
		// had just closed, as any client does.
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), err
}

// bridgeBid sends the next /bid body to the bridge and reads the answer as
// the AdServer does.
func (c *caller) bridgeBid() {
	bodies := c.g.bids
	if c.work == workPrep {
		bodies = c.g.prep
	}
	b := &bodies[c.next%len(bodies)]
	c.next++
	start := time.Now()
	status, lat, err := c.do(c.t.client, http.MethodPost, c.t.bid, b.body, &c.buf)
	down := c.g.outage.overlaps(start, start.Add(lat))
	c.res.Bids++
	c.res.Slots += int64(len(b.creatives))
	c.res.Bid.Record(lat + c.queued())
	switch {
	case lat <= c.g.lateAfter:
	case down:
		c.res.LateOutage++
	case lat-c.g.stalls.overlap(start, start.Add(lat)) <= c.g.lateAfter:
		c.res.LateStalled++
	default:
		c.res.Late++
	}
	if err != nil || status != http.StatusOK {
		if down {
			c.res.BidOutage++
			if errors.Is(err, syscall.ECONNREFUSED) {
				c.res.BidRefused++
				// Nobody listens: a caller that retried at once would
				// spin, thousands of calls a second of nothing.
				time.Sleep(10 * time.Millisecond)
			}
			return
		}
		c.fail(&c.res.BidErrors, "/bid", err, status)
		return
	}
	if c.validate {
		if err := adserversim.ValidateBidResponse(status, c.buf.Bytes(), b.ids); err != nil {
			c.fail(&c.res.BidErrors, "/bid answer the AdServer rejects", err, status)
			return
		}
	}
	if err := json.Unmarshal(c.buf.Bytes(), &c.entries); err != nil {
		c.fail(&c.res.BidErrors, "/bid answer", err, status)
		return
	}
	var seen uint64
	c.slots = c.slots[:0]
	for _, e := range c.entries {
		slot, err := strconv.Atoi(e.RequestID)
		if err != nil || slot < 0 || slot >= len(b.creatives) || seen&(1<<slot) != 0 || !validExtID(e.ExtID) || e.ServeURL == "" {
			// The AdServer drops the whole answer (all-or-nothing).
			c.fail(&c.res.BidErrors, "/bid answer", nil, status)
			return
		}
		seen |= 1 << slot
		c.slots = append(c.slots, slot)
	}
	if len(c.entries) == 0 {
		c.res.NoBids++
		return
	}
	c.res.Wins += int64(len(c.entries))
	for i, e := range c.entries {
		c.answered = append(c.answered, e.ExtID)
		w := win{extID: e.ExtID, creative: b.creatives[c.slots[i]]}
		switch {
		case c.work == workPrep:
			c.wins = append(c.wins, w)
			c.prepLeft.Add(-1)
		case c.g.mixed && c.rnd.Float64() < c.g.viewFraction:
			c.viewAndClick(w, c.rnd.Float64() < c.g.clickFraction)
		}
	}
}

// floorBid sends the next BidRequest through the proxy (Floor) or straight
// to every DSP in parallel (Direct). In mixed mode the floor then makes the
// views and clicks the bridge would have got, assuming every slot filled.
func (c *caller) floorBid() {
	b := &c.g.rtb[c.next%len(c.g.rtb)]
	c.next++
	var status int
	var lat time.Duration
	var err error
	if c.t.sys == Floor {
		status, lat, err = c.do(c.t.client, http.MethodPost, c.t.bid, b.body, &c.buf)
	} else {
		status, lat, err = c.fanOut(b.body)
	}
	c.res.Bids++
	c.res.Slots += int64(b.imps)
	c.res.Bid.Record(lat + c.queued())
	if lat > c.g.lateAfter {
		c.res.Late++
	}
	if err != nil || status != http.StatusOK {
		c.fail(&c.res.BidErrors, string(c.t.sys)+" bid", err, status)
		return
	}
	if c.t.sys != Floor || !c.g.mixed {
		return
	}
	for range b.imps {
		if c.rnd.Float64() < c.g.viewFraction {
			c.fake++
			c.viewAndClick(win{extID: "floor" + strconv.FormatUint(c.fake, 36)}, c.rnd.Float64() < c.g.clickFraction)
		}
	}
}

// fanOut posts body to every DSP at once, as the proxy does, and answers
// 200 when at least one of them did.
func (c *caller) fanOut(body []byte) (int, time.Duration, error) {
	start := time.Now()
	ok := make([]bool, len(c.t.dsps))
	errs := make([]error, len(c.t.dsps))
	var wg sync.WaitGroup
	for i := 1; i < len(c.t.dsps); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, err := c.do(c.t.client, http.MethodPost, c.t.dsps[i], body, &c.fan[i])
			ok[i], errs[i] = err == nil && s == http.StatusOK, err
		}()
	}
	s, _, err := c.do(c.t.client, http.MethodPost, c.t.dsps[0], body, &c.fan[0])
	ok[0], errs[0] = err == nil && s == http.StatusOK, err
	wg.Wait()
	for i := range ok {
		if ok[i] {
			return http.StatusOK, time.Since(start), nil
		}
	}
	return 0, time.Since(start), errs[0]
}

// viewAndClick reports a view of w as the AdServer does and, if click, a
// click after it.
func (c *caller) viewAndClick(w win, click bool) {
	cid := c.caseID()
	base := c.t.view[min(w.creative, len(c.t.view)-1)]
	u := withQuery(base, c.g.views[c.rnd.IntN(len(c.g.views))].query(w.extID, cid))
	start := time.Now()
	status, lat, err := c.do(c.t.client, http.MethodGet, u, nil, &c.buf)
	c.res.View.Record(lat + c.queued())
	if err != nil || status != http.StatusNoContent {
		if c.g.outage.overlaps(start, start.Add(lat)) {
			c.res.ViewOutage++
			return
		}
		c.fail(&c.res.ViewErrors, "/view", err, status)
		return
	}
	c.res.Views++
	if c.t.sys == Bridge {
		c.viewed = append(c.viewed, EventRec{ExtID: w.extID, CaseID: cid})
	}
	if !click {
		return
	}
	base = c.t.click[min(w.creative, len(c.t.click)-1)]
	u = withQuery(base, c.g.clicks[c.rnd.IntN(len(c.g.clicks))].query(w.extID, cid))
	start = time.Now()
	status, lat, err = c.do(c.t.client, http.MethodGet, u, nil, &c.buf)
	c.res.Click.Record(lat)
	if err != nil || (status != http.StatusOK && status != http.StatusNoContent) {
		if c.g.outage.overlaps(start, start.Add(lat)) {
			c.res.ClickOutage++
			return
		}
		c.fail(&c.res.ClickErrors, "/click", err, status)
		return
	}
	c.res.Clicks++
	if c.t.sys == Bridge {
		c.clicked = append(c.clicked, EventRec{ExtID: w.extID, CaseID: cid})
	}
}

// caseID is a fresh 32-hex case id, as the AdServer makes for every view.
func (c *caller) caseID() string {
	const hex = "0123456789abcdef"
	var b [32]byte
	x, y := c.rnd.Uint64(), c.rnd.Uint64()
	for i := range 16 {
		b[i], b[16+i] = hex[x>>(4*i)&15], hex[y>>(4*i)&15]
	}
	return string(b[:])
}

// validExtID is the contract's ext_id: non-empty [A-Za-z0-9_-] (§8.3).
func validExtID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}
