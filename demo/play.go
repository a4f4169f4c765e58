package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
	"github.com/adshares/dsp-bridge/rates"
)

// WinRecord is one slot the bridge filled, followed through the browser
// and the AdServer.
type WinRecord struct {
	ExtID, DSP, AuctionID, ImpID string
	BidMicros                    int64 // what the DSP bid (its own record)
	ServeMicros                  int64 // the price in the serve_url (the bridge's ${AUCTION_PRICE})
	Served, Viewed, Clicked      bool
	Fate                         string // served-not-viewed, serve-failed, view-failed, viewed
	CaseID                       string
	ViewedAt                     time.Time
}

// Fates of a win; every win has exactly one.
const (
	FateViewed      = "viewed"
	FateNotViewed   = "not-viewed" // served, the user never saw it for 1 s
	FateServeFailed = "serve-failed"
	FateViewFailed  = "view-failed"
)

// traffic is what the AdServer simulator saw, shared by the workers.
type traffic struct {
	mu         sync.Mutex
	calls      int
	slots      int
	bidErrors  []string
	wins       []WinRecord
	clicks     int
	clickErrs  int
	latencies  []time.Duration
	lastViewAt time.Time
}

func (t *traffic) counts() (calls, wins, views, clicks int, perDSP map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	perDSP = map[string]int{}
	for _, w := range t.wins {
		perDSP[w.DSP]++
		if w.Viewed {
			views++
		}
	}
	return t.calls, len(t.wins), views, t.clicks, perDSP
}

// Play runs the AdServer's side of the lifecycle against the bridge:
// register, import the inventory, a stream of /bid calls with their serves,
// views and clicks, then waits for the burl notices and the payment reports
// and pays them. It returns the summary; Summary.Check says whether it all
// adds up. An error means a step could not be done at all.
func (e *Env) Play(ctx context.Context) (*Summary, error) {
	o := e.Options
	rate, err := rates.ToNanos(o.ADSRate)
	if err != nil {
		return nil, fmt.Errorf("demo rate %q: %w", o.ADSRate, err)
	}
	sum := &Summary{Seed: o.Seed, Rate: o.Rate, Duration: o.Duration, RateNanos: rate, FeePPM: e.Config.Money.FeePPM(),
		RateURL: e.RateServer.URL(), BridgeURL: e.Config.BaseURL}
	info, err := e.Client.Register(ctx)
	if err != nil {
		return nil, fmt.Errorf("registration (GET /info.json) refused: %w", err)
	}
	sum.Registered, sum.ServerURL, sum.InventoryURL = true, info.ServerURL, info.InventoryURL
	camps, err := e.Client.ImportInventory(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory import refused: %w", err)
	}
	creatives := e.Client.Creatives()
	sum.Campaigns, sum.Creatives = len(camps), len(creatives)
	if len(creatives) == 0 {
		return nil, errors.New("inventory import: no creatives")
	}

	tr := &traffic{}
	start := time.Now()
	for _, d := range e.DSPs {
		d.started.Store(&start)
	}
	progressDone := make(chan struct{})
	stopProgress := e.progress(ctx, tr, start, progressDone)
	err = e.run(ctx, tr, creatives)
	sum.TrafficTime = time.Since(start)
	if err == nil {
		err = e.waitNotices(ctx, tr)
	}
	var settlements []adserversim.Settlement
	if err == nil {
		settlements, err = e.settle(ctx, tr, sum)
	}
	stopProgress()
	<-progressDone
	if err != nil {
		return nil, err
	}
	e.summarize(ctx, sum, tr, settlements)
	sum.Total = time.Since(start)
	return sum, nil
}

// run sends Rate /bid calls a second for Duration, each in its own
// goroutine followed by the browser's serve and the AdServer's view and
// click calls, and waits for all of them.
func (e *Env) run(ctx context.Context, tr *traffic, creatives []adserversim.Creative) error {
	o := e.Options
	n := int(int64(o.Rate) * int64(o.Duration) / int64(time.Second))
	tick := time.NewTicker(time.Second / time.Duration(o.Rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.playOne(ctx, tr, creatives, uint64(i))
		}()
	}
	return nil
}

// playOne is one /supply/find with bridge slots. Its randomness comes from
// (seed, i) only, so a seed replays the same pages, slots and user actions.
func (e *Env) playOne(ctx context.Context, tr *traffic, creatives []adserversim.Creative, i uint64) {
	o := e.Options
	r := rand.New(rand.NewPCG(o.Seed, i))
	imp := adserversim.RandomImpression(r)
	// 1 to 3 bridge slots; from position 0 they go as a JSON array, from
	// another position as an object with string keys (§8.2).
	first, count := r.IntN(3), 1+r.IntN(3)
	var slots []adserversim.Slot
	for p := first; p < first+count; p++ {
		s := adserversim.Slot{Position: p, CreativeID: creatives[r.IntN(len(creatives))].ID}
		if r.IntN(2) == 0 {
			top := r.IntN(2) == 0
			s.Topframe = &top
		}
		slots = append(slots, s)
	}
	res, err := e.Client.Bid(ctx, imp, slots)
	tr.mu.Lock()
	tr.calls++
	tr.slots += len(slots)
	if res != nil && res.Status != 0 {
		tr.latencies = append(tr.latencies, res.Latency)
	}
	if err != nil && ctx.Err() == nil {
		tr.bidErrors = append(tr.bidErrors, err.Error())
	}
	tr.mu.Unlock()
	if err != nil {
		return
	}
	for _, w := range res.Wins {
		rec := e.follow(ctx, r, imp, w)
		tr.mu.Lock()
		tr.wins = append(tr.wins, rec)
		if rec.Clicked {
			tr.clicks++
		}
		if rec.Fate == FateViewed && rec.ViewedAt.After(tr.lastViewAt) {
			tr.lastViewAt = rec.ViewedAt
		}
		tr.mu.Unlock()
	}
}

// follow is the browser and the AdServer after a win: fetch serve_url,
// maybe report a view after a second on screen, maybe a click. Which DSP
// won, in which auction, is looked up by ext_id (a data: serve_url names
// no DSP); what it bid is the DSP's own record, and the price it was told
// is read from its nurl once that arrived (prices).
func (e *Env) follow(ctx context.Context, r *rand.Rand, imp adserversim.Impression, w adserversim.Win) WinRecord {
	rec := WinRecord{ExtID: w.ExtID}
	if a, err := e.Service.Store.GetAuction(ctx, w.ExtID); err == nil {
		rec.DSP, rec.AuctionID, rec.ImpID = a.DSP, a.AuctionID, a.RequestID
		if d := e.dsp(rec.DSP); d != nil {
			rec.BidMicros, _ = d.BidPrice(rec.AuctionID, rec.ImpID)
		}
	}
	viewed, clicked := r.IntN(100) < e.Options.ViewPercent, r.IntN(100) < e.Options.ClickPercent
	ev := adserversim.RandomEvent(r, imp)
	rec.CaseID = adserversim.NormalizeCaseID(ev.CaseID)
	if _, err := e.Client.Serve(ctx, w, "https://"+imp.Site.Domain); err != nil {
		rec.Fate = FateServeFailed
		return rec
	}
	rec.Served = true
	if !viewed {
		rec.Fate = FateNotViewed
		return rec
	}
	if vr, err := e.Client.View(ctx, w, ev); err != nil || !vr.Recorded {
		rec.Fate = FateViewFailed
		return rec
	}
	rec.Fate, rec.Viewed, rec.ViewedAt = FateViewed, true, time.Now()
	if clicked {
		if _, err := e.Client.Click(ctx, w, ev); err == nil {
			rec.Clicked = true
		}
	}
	return rec
}

// waitNotices waits until every DSP has received one billing notice (burl)
// per view of its ads — and a markup DSP one win notice (nurl) per win and
// one impression pixel per view, which the bridge fires itself: the
// bridge's outbox retries the failing ones. Then it reads the price each
// win's nurl told its DSP.
func (e *Env) waitNotices(ctx context.Context, tr *traffic) error {
	views, wins := map[string]int{}, map[string]int{}
	tr.mu.Lock()
	for _, w := range tr.wins {
		wins[w.DSP]++
		if w.Viewed {
			views[w.DSP]++
		}
	}
	tr.mu.Unlock()
	deadline := time.Now().Add(e.Options.Wait)
	for {
		missing := 0
		for _, d := range e.DSPs {
			n := d.Profile.Name
			missing += max(views[n]-len(d.Server.Bills()), 0)
			if d.Profile.markup() {
				missing += max(wins[n]-d.Server.Hits(dspsim.HitWin), 0)
				missing += max(views[n]-d.Server.Hits(d.Profile.impressionHit()), 0)
			}
		}
		if missing == 0 {
			e.prices(tr)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d notices (burl, markup nurl and pixels) still undelivered after %s", missing, e.Options.Wait)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// prices fills each win's ServeMicros: the ${AUCTION_PRICE} its DSP was
// told in the nurl of that auction and imp.
func (e *Env) prices(tr *traffic) {
	told := map[string]int64{}
	for _, d := range e.DSPs {
		for _, q := range d.Server.Wins() {
			told[d.Profile.Name+"/"+q.Get("auction")+"/"+q.Get("imp")], _ = config.ParseDecimal(q.Get("price"), 6)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := range tr.wins {
		w := &tr.wins[i]
		w.ServeMicros = told[w.DSP+"/"+w.AuctionID+"/"+w.ImpID]
	}
}

// dsp is the running DSP of that name.
func (e *Env) dsp(name string) *DSP {
	for _, d := range e.DSPs {
		if d.Profile.Name == name {
			return d
		}
	}
	return nil
}

// settle waits until the report of the period of the last view is done,
// then runs the AdServer's payment processing once: every done report's
// details are paged and credited.
func (e *Env) settle(ctx context.Context, tr *traffic, sum *Summary) ([]adserversim.Settlement, error) {
	tr.mu.Lock()
	last := tr.lastViewAt
	tr.mu.Unlock()
	p := int64(e.Options.Period / time.Second)
	need := last.Unix() / p * p
	deadline := time.Now().Add(e.Options.Wait)
	for {
		reps, err := e.Client.PaymentReports(ctx)
		if err != nil {
			return nil, fmt.Errorf("payment reports refused: %w", err)
		}
		ready := !last.IsZero()
		covered := last.IsZero()
		for _, r := range reps {
			id, _ := strconv.ParseInt(r.ID, 10, 64)
			if id <= need && r.Status != "done" {
				ready = false
			}
			if id >= need && r.Status == "done" {
				covered = true
			}
		}
		if ready && covered || last.IsZero() {
			sum.ReportsListed = len(reps)
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the payment report of %s is not done after %s", last.UTC().Format(time.RFC3339), e.Options.Wait)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
	sum.SettleWait = time.Since(last)
	s, err := e.Client.Settle(ctx)
	if err != nil {
		return nil, fmt.Errorf("payment processing failed: %w", err)
	}
	slices.SortFunc(s, func(a, b adserversim.Settlement) int { return cmpID(a.ReportID, b.ReportID) })
	return s, nil
}

func cmpID(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return int(min(max(x-y, -1), 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
