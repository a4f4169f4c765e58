// Package events serves the AdServer's view and click notifications
// (GET /view, GET /click): it records each event durably before answering,
// bills the first view of a win and enqueues its burl in the same
// transaction, and, when PostgreSQL is unreachable, keeps events in a local
// fsynced spool that is replayed once the database is back.
package events

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/httpapi"
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
	// RateNanos is money.ads_usd in nano-USD, stored with every view.
	RateNanos int64
	// Spool keeps events while the database is down; nil answers 503.
	Spool *Spool
	// Notify is called after a burl was enqueued (wakes the outbox worker).
	Notify func()
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
	// (recorded, spooled, unknown, invalid, unavailable) for the metrics.
	Observe func(typ, result string)

	downUntil atomic.Int64 // unix nanos (wall clock)
}

// New returns a Module with the default timings. spool may be nil.
func New(st *store.Store, log *slog.Logger, rateNanos int64, spool *Spool) *Module {
	return &Module{Store: st, Log: log, RateNanos: rateNanos, Spool: spool, Now: time.Now,
		DBTimeout: 2 * time.Second, DownFor: time.Second, ReplayEvery: time.Second}
}

// Mount adds GET /view and GET /click.
func (m *Module) Mount(r chi.Router) {
	r.Get("/view", m.view)
	r.Get("/click", m.click)
}

// errUnknownExtID: no win is stored under the ext_id.
var errUnknownExtID = errors.New("unknown extid")

func (m *Module) view(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r.URL.RawQuery)
	if err != nil {
		m.count(View, "invalid")
		httpapi.WriteError(w, httpapi.Errorf(httpapi.BadRequest, "%s", err))
		return
	}
	rec := m.newRecord(View, q)
	if _, err := m.recordNow(r.Context(), rec); err == nil {
		m.count(View, "recorded")
		w.WriteHeader(http.StatusNoContent)
		return
	} else if errors.Is(err, errUnknownExtID) {
		m.count(View, "unknown")
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
	a, err := m.recordNow(r.Context(), rec)
	switch {
	case err == nil:
		m.count(Click, "recorded")
		if target := clickTarget(a.ClickURL); target != "" {
			httpapi.WriteJSON(w, http.StatusOK, map[string]string{"redirect_url": target})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, errUnknownExtID):
		m.count(Click, "unknown")
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
		ZoneID: q.ZoneID, PublisherID: q.PublisherID, RateNanos: m.RateNanos, At: m.Now().UTC()}
}

// recordNow stores rec unless the database was found down moments ago.
func (m *Module) recordNow(ctx context.Context, rec Record) (*store.Auction, error) {
	if time.Now().UnixNano() < m.downUntil.Load() {
		return nil, errDatabaseDown
	}
	dbctx, cancel := context.WithTimeout(ctx, m.DBTimeout)
	defer cancel()
	a, err := m.store(dbctx, rec)
	if err == nil {
		m.Log.Info("event recorded", "type", rec.Type, "ext_id", rec.ExtID, "dsp", a.DSP)
	}
	if err != nil && !errors.Is(err, errUnknownExtID) && ctx.Err() == nil {
		m.downUntil.Store(time.Now().Add(m.DownFor).UnixNano())
		m.Log.Warn("event not stored in the database", "type", rec.Type, "ext_id", rec.ExtID, "error", err)
	}
	return a, err
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
	m.Log.Info("event spooled", "type", rec.Type, "ext_id", rec.ExtID)
	m.count(rec.Type, "spooled")
	w.WriteHeader(http.StatusNoContent)
}

func (m *Module) count(typ, result string) {
	if m.Observe != nil {
		m.Observe(typ, result)
	}
}

// store writes one event (live or replayed) and returns its win. Views are
// valued with ads.ViewValue at the record's rate; the burl gets the win's
// macros expanded; the first view also enqueues the markup's impression
// URLs (expanded when the bid won).
func (m *Module) store(ctx context.Context, rec Record) (*store.Auction, error) {
	a, err := m.Store.GetAuction(ctx, rec.ExtID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownExtID
	}
	if err != nil {
		return nil, err
	}
	ev := store.Event{ExtID: rec.ExtID, CaseID: rec.CaseID, Type: rec.Type, ImpressionID: rec.ImpressionID,
		ZoneID: rec.ZoneID, PublisherID: rec.PublisherID, PriceMicros: a.PriceMicros, RateNanos: rec.RateNanos,
		CreatedAt: rec.At, EnqueuedAt: m.Now().UTC()}
	if rec.Type == Click {
		_, err = m.Store.RecordClick(ctx, ev)
		return a, err
	}
	ev.Value = ads.ViewValue(a.PriceMicros, rec.RateNanos)
	burl := ""
	if a.BURL != "" {
		burl = macros.Expand(a.BURL, macros.Values{AuctionID: a.AuctionID, BidID: a.BidID, ImpID: a.RequestID,
			SeatID: a.Seat, AdID: a.AdID, Price: a.BidPrice, Currency: a.BidCurrency})
	}
	// The markup's pixels (or VAST Impressions) are impression notices,
	// fired with the burl and in the same transaction as the billed view:
	// the page never fires them (BROWSER.md).
	res, err := m.Store.RecordView(ctx, ev, a.DSP, burl, a.ImpressionURLs...)
	if err == nil && (res.NoticeID != 0 || res.Impressions > 0) && m.Notify != nil {
		m.Notify()
	}
	return a, err
}
