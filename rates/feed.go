// Package rates keeps the ADS/USD rate billed views are valued at: static
// (money.ads_usd), or fetched on a schedule (money.rate_refresh) from an
// AdsOperator-compatible exchange-rate service (money.rate_url, the source
// the AdServer itself uses) and stored in the database. When the feed fails
// or its last rate is older than money.rate_max_age, the last rate stays in
// use and the bridge says so: a metric, a readiness warning and one log
// line per change of state. It never falls back to a default silently.
package rates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/store"
)

// State is how trustworthy the rate in use is.
type State string

// States of the rate, from good to bad.
const (
	// StateStatic: no feed is configured; money.ads_usd is the rate.
	StateStatic State = "static"
	// StateFresh: the last fetch succeeded within money.rate_max_age.
	StateFresh State = "fresh"
	// StateFailing: the last fetch failed; the rate in use is still younger
	// than money.rate_max_age.
	StateFailing State = "failing"
	// StateStale: the rate in use is older than money.rate_max_age, or no
	// rate was ever fetched and money.ads_usd stands in.
	StateStale State = "stale"
)

// Sources of the rate in use.
const (
	SourceConfig = "config" // money.ads_usd
	SourceFeed   = "feed"   // fetched from money.rate_url
)

// maxBody caps the feed's answer: {"rate": …} is a few dozen bytes.
const maxBody = 64 << 10

// fetchTimeout bounds one fetch, connection included.
const fetchTimeout = 10 * time.Second

// Rate is the rate in use.
type Rate struct {
	Nanos     int64     // nano-USD per ADS
	Text      string    // as the feed or the config wrote it
	Source    string    // SourceConfig or SourceFeed
	FetchedAt time.Time // when the feed answered (zero for SourceConfig)
}

// Status is the rate in use and how it is doing, for readiness and metrics.
type Status struct {
	Rate
	State       State
	Feed        bool          // money.rate_url is set
	Age         time.Duration // since FetchedAt, by the feed's clock (0 without a fetched rate)
	LastAttempt time.Time     // the last fetch, zero before the first
	LastError   string        // why the last fetch failed ("" when it did not)
}

// Feed is the rate source. Nanos is safe for concurrent use on the view path.
type Feed struct {
	Store  *store.Store
	Log    *slog.Logger
	URL    string        // money.rate_url without trailing slash; "" = static
	Every  time.Duration // money.rate_refresh
	MaxAge time.Duration // money.rate_max_age
	Static Rate          // money.ads_usd (Nanos 0 when not set)
	Client *http.Client
	// Now is the feed's clock.
	Now func() time.Time
	// Observe, if set, counts every fetch by result: ok, error.
	Observe func(result string)

	cur atomic.Pointer[Rate]

	mu          sync.Mutex
	lastAttempt time.Time
	lastErr     string
	logged      State // the state last logged
}

// New builds the feed from the money settings. Call Start before Nanos.
func New(m config.Money, st *store.Store, log *slog.Logger) *Feed {
	f := &Feed{Store: st, Log: log, URL: m.RateURL, Every: m.RateRefresh, MaxAge: m.RateMaxAge, Now: time.Now,
		Client: newClient()}
	if n := m.AdsUSDNanos(); n > 0 {
		f.Static = Rate{Nanos: n, Text: m.AdsUSD, Source: SourceConfig}
	}
	return f
}

// newClient is a plain client for the operator's own rate service: bounded
// in time, proxy from the environment, no shared state with DSP clients.
func newClient() *http.Client {
	return &http.Client{Timeout: fetchTimeout, Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: fetchTimeout,
		MaxIdleConns:          1,
		IdleConnTimeout:       time.Minute,
	}}
}

// ErrNoRate: a feed is configured, nothing was ever fetched, the first
// fetch failed and money.ads_usd is not set, so views could not be valued.
var ErrNoRate = errors.New("rates: no ADS rate")

// Start sets the rate in use before the bridge serves. Without a feed it is
// money.ads_usd. With one it is the last rate stored in the database (the
// first fetch then happens in Run), or, on a database that never stored one,
// a rate fetched now; if that fails too, money.ads_usd stands in (state
// stale) or, without it, Start fails with ErrNoRate: a bridge that cannot
// value views must not start.
func (f *Feed) Start(ctx context.Context) error {
	if f.URL == "" {
		r := f.Static
		f.cur.Store(&r)
		f.checkStaticJump(ctx)
		f.logState()
		return nil
	}
	last, err := f.Store.LatestRate(ctx)
	switch {
	case err == nil:
		f.cur.Store(&Rate{Nanos: last.Nanos, Text: last.Text, Source: SourceFeed, FetchedAt: last.FetchedAt})
		f.logState()
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if ferr := f.FetchOnce(ctx); ferr == nil {
		return nil
	} else if f.Static.Nanos == 0 {
		return fmt.Errorf("%w: money.rate_url %s: the first fetch failed (%v) and the database holds no fetched rate yet; "+
			"fix the feed, or set money.ads_usd as the starting rate", ErrNoRate, f.URL, ferr)
	}
	r := f.Static
	f.cur.Store(&r)
	f.logState()
	return nil
}

// Run fetches the rate every Every until ctx ends. Without a feed it only
// waits.
func (f *Feed) Run(ctx context.Context) error {
	if f.URL == "" {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(f.Every)
	defer t.Stop()
	f.mu.Lock()
	// Start fetched just now on a fresh database: the next fetch is due in Every.
	fetched := !f.lastAttempt.IsZero() && f.Now().Sub(f.lastAttempt) < f.Every
	f.mu.Unlock()
	for {
		if !fetched {
			// The state is logged by FetchOnce; the error needs nothing more.
			_ = f.FetchOnce(ctx)
		}
		fetched = false
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Nanos is the rate to value a view at now, in nano-USD per ADS.
func (f *Feed) Nanos() int64 {
	if r := f.cur.Load(); r != nil {
		return r.Nanos
	}
	return f.Static.Nanos
}

// FetchOnce asks the feed once; on success the rate is stored and used from
// now on, on failure the rate in use stays. Either way the state is logged
// if it changed.
func (f *Feed) FetchOnce(ctx context.Context) error {
	now := f.Now()
	r, err := f.fetch(ctx, now)
	if err == nil {
		err = f.Store.InsertRate(ctx, r)
	}
	f.mu.Lock()
	f.lastAttempt = now
	if err != nil {
		f.lastErr = err.Error()
	} else {
		f.lastErr = ""
	}
	f.mu.Unlock()
	if err != nil {
		f.observe("error")
		f.logState()
		return err
	}
	f.observe("ok")
	prev := f.cur.Swap(&Rate{Nanos: r.Nanos, Text: r.Text, Source: SourceFeed, FetchedAt: r.FetchedAt})
	if prev != nil {
		warnIfJumped(f.Log, "money.rate_url", prev.Nanos, r.Nanos)
	}
	if prev == nil || prev.Nanos != r.Nanos || prev.Source != SourceFeed {
		f.Log.Info("ads rate updated", "rate_usd", ads.FormatUSDNanos(r.Nanos), "sent_as", r.Text,
			"previous_usd", previousText(prev), "asked_for", ads.FormatATOM(r.AskedFor))
	}
	f.logState()
	return nil
}

func previousText(r *Rate) string {
	if r == nil {
		return ""
	}
	return ads.FormatUSDNanos(r.Nanos)
}

// fetch asks GET {url}/api/v1/exchange-rate/{ATOM time}/USD. Like the
// AdServer's own client, the time is an hour ago: an AdsOperator computes a
// rate per completed hour (it rounds the time down to the hour), and the
// current hour may have none yet. The "+" of the ATOM offset goes into the
// path literally, as the AdServer sends it ("+" is allowed in a path and
// the AdsOperator reads it back as "+").
func (f *Feed) fetch(ctx context.Context, now time.Time) (store.Rate, error) {
	asked := now.Add(-time.Hour).Truncate(time.Second)
	u := f.URL + "/api/v1/exchange-rate/" + ads.FormatATOM(asked) + "/USD"
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return store.Rate{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.Client.Do(req)
	if err != nil {
		return store.Rate{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return store.Rate{}, fmt.Errorf("rates: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return store.Rate{}, fmt.Errorf("rates: %s answered %d", u, resp.StatusCode)
	}
	if len(body) > maxBody {
		return store.Rate{}, fmt.Errorf("%w: the answer is larger than %d bytes", ErrBadRate, maxBody)
	}
	text, err := ParseAnswer(body)
	if err != nil {
		return store.Rate{}, err
	}
	nanos, err := ToNanos(text)
	if err != nil {
		return store.Rate{}, err
	}
	return store.Rate{FetchedAt: f.Now(), Nanos: nanos, Text: text, AskedFor: asked, Source: u}, nil
}

func (f *Feed) observe(result string) {
	if f.Observe != nil {
		f.Observe(result)
	}
}

// Status is the rate in use and its state now.
func (f *Feed) Status() Status {
	f.mu.Lock()
	attempt, lastErr := f.lastAttempt, f.lastErr
	f.mu.Unlock()
	st := Status{Feed: f.URL != "", LastAttempt: attempt, LastError: lastErr}
	if r := f.cur.Load(); r != nil {
		st.Rate = *r
	} else {
		st.Rate = f.Static
	}
	now := f.Now()
	if st.Source == SourceFeed {
		st.Age = max(now.Sub(st.FetchedAt), 0)
	}
	st.State = f.stateOf(st, now)
	return st
}

func (f *Feed) stateOf(st Status, now time.Time) State {
	switch {
	case !st.Feed:
		return StateStatic
	case st.Source != SourceFeed || now.Sub(st.FetchedAt) > f.MaxAge:
		return StateStale
	case st.LastError != "":
		return StateFailing
	}
	return StateFresh
}

// logState writes one line when the state changed since the last line.
func (f *Feed) logState() {
	st := f.Status()
	if st.Nanos == 0 {
		return // nothing in use yet: Start is about to fail with ErrNoRate
	}
	f.mu.Lock()
	changed := st.State != f.logged
	f.logged = st.State
	f.mu.Unlock()
	if !changed {
		return
	}
	rate := ads.FormatUSDNanos(st.Nanos)
	switch st.State {
	case StateStatic:
		f.Log.Info("ads rate: static money.ads_usd (money.rate_url is empty)", "rate_usd", rate)
	case StateFresh:
		f.Log.Info("ads rate feed ok", "rate_usd", rate, "fetched_at", ads.FormatATOM(st.FetchedAt), "url", f.URL)
	case StateFailing:
		f.Log.Warn("ads rate feed failing; views keep the last fetched rate", "rate_usd", rate,
			"fetched_at", ads.FormatATOM(st.FetchedAt), "error", st.LastError, "url", f.URL)
	case StateStale:
		if st.Source == SourceConfig {
			f.Log.Error("ads rate feed: no rate fetched yet; views are valued at money.ads_usd until the feed answers",
				"rate_usd", rate, "error", st.LastError, "url", f.URL)
		} else {
			f.Log.Error("ads rate feed stale: the rate in use is older than money.rate_max_age; views keep it until the feed answers",
				"rate_usd", rate, "fetched_at", ads.FormatATOM(st.FetchedAt), "max_age", f.MaxAge.String(),
				"error", st.LastError, "url", f.URL)
		}
	}
}

// Check is the `ads_rate` readiness detail. It never makes the bridge
// unready (views keep being valued at the last rate), but a failing or
// stale feed shows a warning.
func (f *Feed) Check(context.Context) (string, any, bool) {
	st := f.Status()
	d := map[string]any{"ok": true, "state": string(st.State), "source": st.Source,
		"rate_usd": ads.FormatUSDNanos(st.Nanos)}
	if st.Feed {
		d["url"] = f.URL
		d["max_age_s"] = int64(f.MaxAge / time.Second)
		if !st.FetchedAt.IsZero() {
			d["fetched_at"] = ads.FormatATOM(st.FetchedAt)
			d["age_s"] = int64(st.Age / time.Second)
		}
		if st.LastError != "" {
			d["last_error"] = st.LastError
		}
	}
	switch st.State {
	case StateFailing:
		d["warning"] = "the rate feed is failing; views are valued at the last fetched rate"
	case StateStale:
		if st.Source == SourceConfig {
			d["warning"] = "no rate fetched yet; views are valued at money.ads_usd"
		} else {
			d["warning"] = "the rate in use is older than money.rate_max_age; views are valued at it until the feed answers"
		}
	}
	return "ads_rate", d, true
}
