package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/httpapi"
	"github.com/adshares/dsp-bridge/inventory"
	"github.com/adshares/dsp-bridge/store"
)

// transparentPNG is a 1×1 transparent PNG: the inventory's placeholder
// serve_url answers it (the AdServer requires a valid serve_url but never
// shows it for bridge slots, /bid replaces it).
var transparentPNG = func() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	return b.Bytes()
}()

// Inventory serves GET /inventory (ADSERVER-BRIDGE §7) from a document
// built once at start, and remembers the AdServer's first fetch.
type Inventory struct {
	body     []byte
	catalog  *inventory.Catalog
	st       *store.Store
	log      *slog.Logger
	recorded atomic.Bool
	now      func() time.Time
}

// NewInventory encodes the document once.
func NewInventory(doc []inventory.Campaign, catalog *inventory.Catalog, st *store.Store, log *slog.Logger) (*Inventory, error) {
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return &Inventory{body: body, catalog: catalog, st: st, log: log, now: time.Now}, nil
}

func (h *Inventory) serve(w http.ResponseWriter, r *http.Request) {
	if !h.recorded.Load() {
		// Payments keep reports "processing" until this is recorded, so a
		// failure here only delays them; the AdServer still gets its answer.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		if err := h.st.RecordInventoryFetch(ctx, h.now()); err != nil {
			h.log.Warn("could not record the first inventory fetch", "error", err)
		} else {
			h.recorded.Store(true)
		}
		cancel()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(h.body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(h.body)
}

func (h *Inventory) placeholder(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.catalog.Lookup(chi.URLParam(r, "id")); !ok {
		httpapi.WriteError(w, httpapi.Errorf(httpapi.NotFound, "no such creative"))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(transparentPNG)
}
