package payments

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/httpapi"
	"github.com/adshares/dsp-bridge/store"
)

// Paging limits of /payment-details: the AdServer asks for 5000 by default
// and its own demand side allows up to 10000.
const (
	DefaultLimit = 5000
	MaxLimit     = 10000
)

// reportIDPattern is a report id as the bridge makes them: 1..18 digits.
var reportIDPattern = regexp.MustCompile(`^[0-9]{1,18}$`)

// Module serves /payment-reports and /payment-details (bridge.Module).
type Module struct {
	store  *store.Store
	window time.Duration
	auth   *Verifier
	log    *slog.Logger

	// Now is the clock (tests inject one).
	Now func() time.Time
}

// NewModule makes the payments endpoints; auth may be nil (no signatures).
func NewModule(st *store.Store, cfg config.Payments, auth *Verifier, log *slog.Logger) *Module {
	return &Module{store: st, window: cfg.Window, auth: auth, log: log, Now: time.Now}
}

// Mount adds the routes, with the docs' spelling /payments-details as an alias.
func (m *Module) Mount(r chi.Router) {
	r.Get("/payment-reports", m.reports)
	guarded := r.With(m.auth.Middleware)
	guarded.Get("/payment-details/{reportId}/{address}/{date}/{signature}", m.details)
	guarded.Get("/payments-details/{reportId}/{address}/{date}/{signature}", m.details)
}

// reportJSON is one entry of /payment-reports (ADSERVER-BRIDGE §12). Value
// has no omitempty: the key is required, null while processing.
type reportJSON struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Status    string `json:"status"`
	Value     *int64 `json:"value"`
}

// reports lists the reports of the rolling window, oldest first. Until the
// AdServer has imported the inventory once, every report is shown as
// processing: a done report seen before registration is invalidated forever
// (§14), a processing one is simply asked about again.
func (m *Module) reports(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	registered, err := m.store.InventoryFetched(ctx)
	if err != nil {
		m.fail(w, r, err)
		return
	}
	now := m.Now()
	list, err := m.store.ListReports(ctx, now.Add(-m.window), now.AddDate(100, 0, 0))
	if err != nil {
		m.fail(w, r, err)
		return
	}
	out := make([]reportJSON, 0, len(list))
	for _, rep := range list {
		j := reportJSON{
			ID:        strconv.FormatInt(rep.ID, 10),
			CreatedAt: ads.FormatATOM(rep.CreatedAt),
			UpdatedAt: ads.FormatATOM(rep.UpdatedAt),
			Status:    store.StatusProcessing,
		}
		if rep.Status == store.StatusDone && registered {
			j.Status, j.Value = store.StatusDone, rep.Value
		}
		out = append(out, j)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// detailJSON is one entry of /payment-details (ADSERVER-BRIDGE §13).
type detailJSON struct {
	CaseID     string `json:"case_id"`
	EventValue int64  `json:"event_value"`
}

// details serves one page of a report's billed views. Path segments are
// taken literally (the "+" of the date stays a "+"); a percent-encoded
// segment from another client is decoded as a path, never as a query.
func (m *Module) details(w http.ResponseWriter, r *http.Request) {
	reportID, address, date, signature := detailsPath(r)
	if err := m.auth.verifyPath(r, reportID, address, date, signature); err != nil {
		m.auth.reject(w, r, err)
		return
	}
	limit, offset, perr := detailsPaging(r.URL.Query())
	if perr != nil {
		httpapi.WriteError(w, perr)
		return
	}
	if !reportIDPattern.MatchString(reportID) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.NotFound, "unknown payment report %q", reportID))
		return
	}
	id, _ := strconv.ParseInt(reportID, 10, 64)
	rep, err := m.store.GetReport(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.NotFound, "unknown payment report %q", reportID))
		return
	}
	if err != nil {
		m.fail(w, r, err)
		return
	}
	out := make([]detailJSON, 0)
	if rep.Status == store.StatusDone {
		rows, err := m.store.ReportDetails(r.Context(), rep, limit, offset)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		out = make([]detailJSON, len(rows))
		for i, d := range rows {
			out[i] = detailJSON{CaseID: d.CaseID, EventValue: d.Value}
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// detailsPath is the four path segments of a /payment-details call.
func detailsPath(r *http.Request) (reportID, address, date, signature string) {
	seg := func(name string) string {
		raw := chi.URLParam(r, name)
		if s, err := url.PathUnescape(raw); err == nil {
			return s
		}
		return raw
	}
	return seg("reportId"), seg("address"), seg("date"), seg("signature")
}

// detailsPaging reads limit and offset, or says which is wrong.
func detailsPaging(q url.Values) (limit, offset int64, _ *httpapi.Error) {
	limit, err := queryInt(q, "limit", DefaultLimit)
	if err != nil || limit < 1 || limit > MaxLimit {
		return 0, 0, httpapi.Errorf(httpapi.BadRequest, "limit must be an integer from 1 to %d", MaxLimit)
	}
	offset, err = queryInt(q, "offset", 0)
	if err != nil || offset < 0 {
		return 0, 0, httpapi.Errorf(httpapi.BadRequest, "offset must be a non-negative integer")
	}
	return limit, offset, nil
}

// queryInt reads an optional decimal query parameter.
func queryInt(q url.Values, name string, def int64) (int64, error) {
	if !q.Has(name) {
		return def, nil
	}
	return strconv.ParseInt(q.Get(name), 10, 64)
}

// fail answers 503 when the database is the problem: the AdServer retries a
// failed payments run from where it stopped (§13).
func (m *Module) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	m.log.Error("payments: database error", "path", r.URL.Path, "error", err.Error())
	httpapi.WriteError(w, httpapi.Wrap(httpapi.Unavailable, err, "payments temporarily unavailable"))
}
