package bridge

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/auction"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/logbuf"
	"github.com/adshares/dsp-bridge/internal/logctx"
)

// lineServer is the frame of a /bid with the service's log (logctx, the
// buffered writer, JSON) into out, and a handler putting the auction of a
// won slot (one DSP called) on the request's line as serve does.
func lineServer(out io.Writer) (http.Handler, func()) {
	w := logbuf.NewWithTicks(out, 64<<10, nil)
	log := slog.New(logctx.Handler(w.Handler(slog.NewJSONHandler(w, nil))))
	cfg := &config.Config{}
	cfg.Server.MaxBodyBytes = 1 << 20
	s := &Server{cfg: cfg, log: log}
	res := &auction.AuctionResult{ID: "a-1", Outcome: auction.AuctionWon, Slots: 1, Duration: 12 * time.Millisecond,
		Wins: []auction.Win{{RequestID: "0", ExtID: "x-1"}},
		DSPs: []auction.DSPResult{{DSP: "dsp-a", Outcome: auction.OutcomeBid}}}
	h := s.frame(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logctx.InfoAttrs(r.Context(), log, "auction", auctionAttrs(res, []string{"x-1"})...)
	}))
	return h, func() { w.Close() }
}

// BenchmarkAuctionLine is the one info line of a /bid: the handler's
// attributes, the access line's record and its JSON into the buffer.
func BenchmarkAuctionLine(b *testing.B) {
	h, closeLog := lineServer(io.Discard)
	defer closeLog()
	req := httptest.NewRequest("POST", "/bid", nil)
	req.Header.Set(RequestIDHeader, "r-1")
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, req)
	}
}

// The line keeps its fields whatever is done to cut its allocations.
func TestAuctionLineFields(t *testing.T) {
	var out bytes.Buffer
	h, closeLog := lineServer(&out)
	req := httptest.NewRequest("POST", "/bid", nil)
	req.Header.Set(RequestIDHeader, "r-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	closeLog()
	line := out.String()
	for _, want := range []string{`"msg":"auction"`, `"method":"POST"`, `"path":"/bid"`, `"status":200`, `"bytes":0`,
		`"auction_id":"a-1","outcome":"won","slots":1,"wins":1,"ext_ids":["x-1"],"rejected":0,"dsps_called":1,"dsps":{"dsp-a":"bid"},"auction_ms":12,"request_id":"r-1"}`} {
		if !strings.Contains(line, want) {
			t.Errorf("line %s lacks %s", line, want)
		}
	}
}
