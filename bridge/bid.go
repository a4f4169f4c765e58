package bridge

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/httpapi"
	"github.com/adshares/dsp-bridge/internal/logctx"
	"github.com/adshares/dsp-bridge/inventory"
)

// BidHandler serves POST /bid and its alias POST /serve (ADSERVER-BRIDGE §8).
type BidHandler struct {
	auction *auction.Auctioneer
	catalog *inventory.Catalog
	log     *slog.Logger
}

// NewBidHandler binds the auction to the creative catalog.
func NewBidHandler(a *auction.Auctioneer, catalog *inventory.Catalog, log *slog.Logger) *BidHandler {
	return &BidHandler{auction: a, catalog: catalog, log: log}
}

// Mount adds POST /bid and POST /serve.
func (h *BidHandler) Mount(r chi.Router) {
	r.Post("/bid", h.serve)
	r.Post("/serve", h.serve)
}

// bidAnswer is one entry of the /bid answer.
type bidAnswer struct {
	RequestID string `json:"request_id"`
	ExtID     string `json:"ext_id"`
	ServeURL  string `json:"serve_url"`
}

func (h *BidHandler) serve(w http.ResponseWriter, r *http.Request) {
	body, release, err := readBody(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			httpapi.WriteError(w, mb)
			return
		}
		httpapi.WriteError(w, httpapi.Wrap(httpapi.BadRequest, err, "could not read the body"))
		return
	}
	call, err := ParseBidCall(body)
	release() // nothing of call refers to body
	if err != nil {
		httpapi.WriteError(w, httpapi.Wrap(httpapi.BadRequest, err, err.Error()))
		return
	}
	res := h.auction.Run(r.Context(), h.auctionRequest(r.Context(), call))
	extIDs := make([]string, 0, len(res.Wins)) // logged, so that one grep follows a win to its events and notices
	for _, win := range res.Wins {
		extIDs = append(extIDs, win.ExtID)
	}
	if h.log.Enabled(r.Context(), slog.LevelInfo) {
		logctx.InfoAttrs(r.Context(), h.log, "auction", auctionAttrs(res, extIDs)...)
	}
	// Encoded here rather than with httpapi.WriteJSON to keep the & of
	// serve_urls readable (no \u0026) in logs and captures.
	buf := answerPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			answerPool.Put(buf)
		}
	}()
	if err := encodeWins(buf, res.Wins); err != nil {
		res.Answered(false)
		httpapi.WriteError(w, err)
		return
	}
	// Both values in one allocation (Header.Set makes a slice each), each
	// capped at its length so that an Add to one cannot write into the other.
	vals := make([]string, 2)
	vals[0], vals[1] = "application/json", strconv.Itoa(buf.Len())
	hdr := w.Header()
	hdr["Content-Type"], hdr["Content-Length"] = vals[0:1:1], vals[1:2:2]
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	// The DSPs of markup wins hear of them now (their nurl), or never if the
	// AdServer could not be told.
	res.Answered(err == nil)
}

// auctionRequest turns the parsed body into what the auction sells: each
// slot with the inventory creative it names.
func (h *BidHandler) auctionRequest(ctx context.Context, call *BidCall) *auction.Request {
	var req *auction.Request
	if len(call.Slots) == 1 {
		// The usual call: the request and its slot in one allocation.
		one := &requestOfOne{req: auction.Request{Site: call.Site, Device: call.Device, User: call.User}}
		req = &one.req
		req.Slots = one.slot[:0:1]
	} else {
		req = &auction.Request{Site: call.Site, Device: call.Device, User: call.User,
			Slots: make([]auction.Slot, 0, len(call.Slots))}
	}
	for _, s := range call.Slots {
		cr, ok := h.catalog.Lookup(s.CreativeID)
		if !ok {
			// The AdServer may still hold an inventory from before a config
			// change: skip the slot, auction the others.
			h.log.WarnContext(ctx, "bid request for an unknown creative; slot skipped",
				"slot", s.RequestID, "creative_id", s.CreativeID)
			continue
		}
		req.Slots = append(req.Slots, auction.Slot{ID: s.RequestID, Creative: cr, CreativeID: cr.ID, Mimes: s.Mimes, TopFrame: s.TopFrame})
	}
	return req
}

// requestOfOne is an auction request of one slot, with its slot.
type requestOfOne struct {
	req  auction.Request
	slot [1]auction.Slot
}

// auctionAttrs are what the /bid line says of its auction (the access log
// adds the request's status and duration): what an operator needs to follow
// a request to its wins, and to see which DSP did what, without a second line.
func auctionAttrs(res *auction.AuctionResult, extIDs []string) []slog.Attr {
	// The line's attributes and the dsps group's after them in one
	// allocation; the line's own are capped at their length, so that an
	// append to them never writes over the group.
	const own = 9
	all := make([]slog.Attr, own, own+len(res.DSPs))
	dsps := all[own:]
	called := 0
	for _, d := range res.DSPs {
		if d.Outcome.Called() {
			called++
		}
		dsps = append(dsps, slog.String(d.DSP, string(d.Outcome)))
	}
	copy(all, []slog.Attr{slog.String("auction_id", res.ID), slog.String("outcome", string(res.Outcome)),
		slog.Int("slots", res.Slots), slog.Int("wins", len(res.Wins)), slog.Any("ext_ids", extIDs),
		slog.Int("rejected", len(res.Rejections)), slog.Int("dsps_called", called),
		{Key: "dsps", Value: slog.GroupValue(dsps...)},
		slog.Float64("auction_ms", float64(res.Duration.Microseconds())/1000)})
	return all[:own:own]
}
