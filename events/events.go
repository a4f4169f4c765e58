// Package events serves the AdServer's view and click notifications
// (GET /view, GET /click): it records each event durably before answering,
// bills the first view of a win and enqueues its burl in the same
// transaction, and, when PostgreSQL is unreachable, keeps events in a local
// fsynced spool that is replayed once the database is back.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/httpapi"
	"github.com/adshares/dsp-bridge/internal/groupcommit"
	"github.com/adshares/dsp-bridge/internal/logctx"
	"github.com/adshares/dsp-bridge/macros"
	"github.com/adshares/dsp-bridge/store"
)

// Event types.
const (
	View  = "view"
	Click = "click"
)

// Module is the /view and /click endpoints plus the spool replayer.
type Module struct {
	Store *store.Store
	Log   *slog.Logger
	// Rate is the ADS price in nano-USD at this moment (the rate feed, or
	// money.ads_usd), read once per event and stored with it.
	Rate func() int64
	// FeePPM is the operator's fee (money.fee, parts per million), stored
	// with every event.
	FeePPM int64
	// Spool keeps events while the database is down; nil answers 503.
	Spool *Spool
	// Notify is called after a burl was enqueued (wakes the outbox worker).
	Notify func()
	// Notices, if set, takes the notices of live views straight from
	// memory (no claim, no wake-up); views stored one by one still Notify.
	Notices NoticeSink
	// Now is the clock events are stamped with.
	Now func() time.Time
	// DBTimeout bounds one event's database work before the spool (or 503)
	// takes over; the AdServer waits up to 30 s, its browser much less.
	DBTimeout time.Duration
	// DownFor is how long, after a failed write, events go straight to the
	// spool without trying the database first.
	DownFor time.Duration
	// ReplayEvery is how often the replayer looks at the spool.
	ReplayEvery time.Duration
	// Observe, if set, counts every /view and /click by type and result
	// (recorded, late, spooled, unknown, expired, invalid, unavailable) for
	// the metrics.
	Observe func(typ, result string)
	// ObserveBilled, if set, counts every billed view stored (live or
	// replayed): its DSP, its CPM in micro-USD and its value in clicks.
	ObserveBilled func(dsp string, priceMicros, clicks int64)
	// MaxViewAge is how long after its win a view is billed
	// (events.max_view_age); 0: always.
	MaxViewAge time.Duration
	// ViewDeadline, if set, overrides MaxViewAge per win: a view after the
	// time it returns is late (stored, not billed, no burl). It is where a
	// bid's own expiry (OpenRTB bid.exp) plugs in once wins store it.
	ViewDeadline func(a *store.Auction) time.Time
	// WinRetention is how long a win is kept (retention.wins): a view or
	// click later than that is answered like an unknown extid, even while
	// the win's partition still exists; 0: no limit.
	WinRetention time.Duration
	// BatchSize is how many concurrent views share one transaction at most
	// (events.batch_size); 0: DefaultBatchSize.
	BatchSize int

	downUntil atomic.Int64 // unix nanos (wall clock)

	viewsMu     sync.Mutex
	views       *groupcommit.Batcher[Record, stored] // the views' group commit, once started
	viewsClosed bool
}

// New returns a Module with the default timings and no fee. rate gives the
// ADS price in nano-USD at the moment of each event; spool may be nil.
func New(st *store.Store, log *slog.Logger, rate func() int64, spool *Spool) *Module {
	return &Module{Store: st, Log: log, Rate: rate, Spool: spool, Now: time.Now,
		DBTimeout: 2 * time.Second, DownFor: time.Second, ReplayEvery: time.Second,
		MaxViewAge: 24 * time.Hour, WinRetention: 7 * 24 * time.Hour}
}

// Mount adds GET /view and GET /click.
func (m *Module) Mount(r chi.Router) {
	r.Get("/view", m.view)
	r.Get("/click", m.click)
}

// errUnknownExtID: no win is stored under the ext_id.
var errUnknownExtID = errors.New("unknown extid")

// errExpiredExtID: the win is older than retention.wins (dropped, or about
// to be). It is an errUnknownExtID to the AdServer, counted apart.
var errExpiredExtID = fmt.Errorf("%w: win older than retention.wins", errUnknownExtID)

// result is how an event that reached the database is counted.
func result(err error, late bool) string {
	switch {
	case errors.Is(err, errExpiredExtID):
		return "expired"
	case errors.Is(err, errUnknownExtID):
		return "unknown"
	case late:
		return "late"
	}
	return "recorded"
}

func (m *Module) view(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r.URL.RawQuery)
	if err != nil {
		m.count(View, "invalid")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.BadRequest, "%s", err))
		return
	}
	rec := m.newRecord(View, q)
	if st, err := m.recordNow(r.Context(), rec); err == nil {
		// A late view is stored, just not billed: the AdServer did its part.
		m.count(View, result(nil, st.late))
		w.WriteHeader(http.StatusNoContent)
		return
	} else if errors.Is(err, errUnknownExtID) {
		m.count(View, result(err, false))
		httpapi.WriteError(w, httpapi.Errorf(httpapi.NotFound, "unknown extid %q", q.ExtID))
		return
	}
	m.spoolOr503(w, r, rec)
}

func (m *Module) click(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r.URL.RawQuery)
	if errors.Is(err, errBadExtID) {
		// Nothing to record and nowhere to send the user: the AdServer
		// shows its own page.
		m.count(Click, "invalid")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		m.count(Click, "invalid")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.BadRequest, "%s", err))
		return
	}
	rec := m.newRecord(Click, q)
	st, err := m.recordNow(r.Context(), rec)
	switch {
	case err == nil:
		m.count(Click, "recorded")
		if target := clickTarget(st.win.ClickURL); target != "" {
			httpapi.WriteJSON(w, http.StatusOK, map[string]string{"redirect_url": target})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, errUnknownExtID):
		m.count(Click, result(err, false))
		w.WriteHeader(http.StatusNoContent)
	default:
		// Without the database the click URL is unknown: record the click,
		// let the AdServer send the user to its own page.
		m.spoolOr503(w, r, rec)
	}
}

// clickTarget is u if it is an absolute http(s) URL: never an empty or
// relative redirect_url (an empty one is a 500 in the AdServer).
func clickTarget(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

func (m *Module) newRecord(typ string, q query) Record {
	return Record{Type: typ, ExtID: q.ExtID, CaseID: q.CaseID, ImpressionID: q.ImpressionID,
		ZoneID: q.ZoneID, PublisherID: q.PublisherID, RateNanos: m.Rate(), FeePPM: m.FeePPM, At: m.Now().UTC()}
}

// recordNow stores rec unless the database was found down moments ago.
func (m *Module) recordNow(ctx context.Context, rec Record) (stored, error) {
	if time.Now().UnixNano() < m.downUntil.Load() {
		return stored{}, errDatabaseDown
	}
	dbctx, cancel := context.WithTimeout(ctx, m.DBTimeout)
	defer cancel()
	st, err := m.storeLive(dbctx, rec)
	if err == nil {
		logctx.InfoAttrs(ctx, m.Log, "event recorded", slog.String("type", rec.Type), slog.String("ext_id", rec.ExtID),
			slog.String("dsp", st.win.DSP), slog.Bool("late", st.late))
	}
	if err != nil && !errors.Is(err, errUnknownExtID) && ctx.Err() == nil {
		m.downUntil.Store(time.Now().Add(m.DownFor).UnixNano())
		m.Log.Warn("event not stored in the database", "type", rec.Type, "ext_id", rec.ExtID, "error", err)
	}
	return st, err
}

var errDatabaseDown = errors.New("database recently unreachable")

// spoolOr503 keeps the event in the spool and answers as if stored, or
// answers 503 when there is no spool (or it failed): never a 204 for an
// event that is not durable somewhere.
func (m *Module) spoolOr503(w http.ResponseWriter, r *http.Request, rec Record) {
	if m.Spool == nil {
		m.count(rec.Type, "unavailable")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.Unavailable, "database unavailable, event not recorded"))
		return
	}
	if err := m.Spool.Append(rec); err != nil {
		m.Log.Error("event lost: database down and spool failed", "type", rec.Type, "ext_id", rec.ExtID, "error", err)
		m.count(rec.Type, "unavailable")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.Unavailable, "database unavailable, event not recorded"))
		return
	}
	logctx.Info(r.Context(), m.Log, "event spooled", "type", rec.Type, "ext_id", rec.ExtID)
	m.count(rec.Type, "spooled")
	w.WriteHeader(http.StatusNoContent)
}

func (m *Module) count(typ, result string) {
	if m.Observe != nil {
		m.Observe(typ, result)
	}
}

// stored is what store did with an event.
type stored struct {
	win  *store.Auction
	late bool // a view after its win's view deadline: not billed
}

// viewDeadline is the time after which a view of a is late.
func (m *Module) viewDeadline(a *store.Auction) (time.Time, bool) {
	if m.ViewDeadline != nil {
		return m.ViewDeadline(a), true
	}
	if m.MaxViewAge <= 0 {
		return time.Time{}, false
	}
	return a.CreatedAt.Add(m.MaxViewAge), true
}

// store writes one event (live or replayed) and returns its win. Views are
// valued with ads.ViewValueAfterFee at the record's rate and fee (those of
// the moment the AdServer reported it, also when replayed later); the burl
// gets the win's macros expanded; the first view also enqueues the markup's
// impression URLs (expanded when the bid won). Ages count from the event's
// own time (rec.At), so a view spooled in time and replayed later is billed
// as it would have been. Live views take the batched path (commitViews),
// which does the same for many at once.
func (m *Module) store(ctx context.Context, rec Record) (stored, error) {
	a, err := m.Store.GetAuction(ctx, rec.ExtID)
	if errors.Is(err, store.ErrNotFound) {
		return stored{}, m.unknown(rec)
	}
	if err != nil {
		return stored{}, err
	}
	ev, err := m.event(rec, a)
	if err != nil {
		return stored{}, err
	}
	if rec.Type == Click {
		_, err = m.Store.RecordClick(ctx, ev)
		return stored{win: a}, err
	}
	w := m.viewWrite(a, ev)
	res, err := m.Store.RecordView(ctx, w.Event, w.DSP, w.BURL, w.Impressions...)
	if err == nil && m.recorded(a, w, res) && m.Notify != nil {
		m.Notify()
	}
	return stored{win: a, late: ev.Late}, err
}

// unknown is the error of an event whose win is not stored: expired if its
// ext_id's time is older than retention.wins, unknown otherwise.
func (m *Module) unknown(rec Record) error {
	if t, ok := store.ExtIDTime(rec.ExtID); ok && m.WinRetention > 0 && rec.At.Sub(t) > m.WinRetention {
		return errExpiredExtID
	}
	return errUnknownExtID
}

// event is the row of rec, an event of win a (errExpiredExtID if a is
// older than retention.wins).
func (m *Module) event(rec Record, a *store.Auction) (store.Event, error) {
	if m.WinRetention > 0 && rec.At.Sub(a.CreatedAt) > m.WinRetention {
		return store.Event{}, errExpiredExtID
	}
	ev := store.Event{ExtID: rec.ExtID, CaseID: rec.CaseID, Type: rec.Type, ImpressionID: rec.ImpressionID,
		ZoneID: rec.ZoneID, PublisherID: rec.PublisherID, DSP: a.DSP, PriceMicros: a.PriceMicros, RateNanos: rec.RateNanos,
		FeePPM: rec.FeePPM, CreatedAt: rec.At, EnqueuedAt: m.Now().UTC(), WinAt: a.CreatedAt,
		BidAdjustmentPPM: a.BidAdjustmentPPM, BidPrice: a.BidPrice, BidCurrency: a.BidCurrency}
	if rec.Type == View {
		if deadline, ok := m.viewDeadline(a); ok && rec.At.After(deadline) {
			ev.Late = true
		}
		ev.Value = ads.ViewValueAfterFee(a.PriceMicros, rec.RateNanos, rec.FeePPM)
	}
	return ev, nil
}

// viewWrite is what RecordView(s) stores for view ev of win a: the burl
// with the win's macros expanded and the markup's pixels (or VAST
// Impressions), impression notices fired with the burl and in the same
// transaction as the billed view: the page never fires them (BROWSER.md).
func (m *Module) viewWrite(a *store.Auction, ev store.Event) store.ViewWrite {
	burl := ""
	if a.BURL != "" {
		burl = macros.Expand(a.BURL, macros.Values{AuctionID: a.AuctionID, BidID: a.BidID, ImpID: a.RequestID,
			SeatID: a.Seat, AdID: a.AdID, Price: a.BidPrice, Currency: a.BidCurrency})
	}
	return store.ViewWrite{Event: ev, DSP: a.DSP, BURL: burl, Impressions: a.ImpressionURLs}
}

// recorded counts a stored view and reports whether it enqueued notices
// (the outbox worker is to be woken).
func (m *Module) recorded(a *store.Auction, w store.ViewWrite, res store.Recorded) bool {
	if res.Billed && m.ObserveBilled != nil {
		m.ObserveBilled(a.DSP, a.PriceMicros, w.Event.Value)
	}
	return res.NoticeID != 0 || res.Impressions > 0
}
