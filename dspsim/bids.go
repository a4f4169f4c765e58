package dspsim

// The bid endpoint: decoding the BidRequest, answering in the configured
// mode, and the bids themselves.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

func (s *Server) auction(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, 4<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	var req openrtb2.BidRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		http.Error(w, "not an OpenRTB request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.calls++
	n := s.calls
	o := s.opts
	if o.MaxRecorded == 0 || len(s.received) < o.MaxRecorded {
		s.received = append(s.received, Received{Header: r.Header.Clone(), Body: raw, Request: req})
	}
	fail := (o.FailEvery > 0 && n%o.FailEvery == 0) || (o.FailFraction > 0 && s.rnd.Float64() < o.FailFraction)
	s.mu.Unlock()

	if o.Latency > 0 {
		select {
		case <-time.After(o.Latency):
		case <-r.Context().Done():
			return
		case <-s.closing:
			panic(http.ErrAbortHandler)
		}
	}
	if fail {
		http.Error(w, "simulated failure", http.StatusInternalServerError)
		return
	}
	switch fault := s.pickFault(SurfaceBid); fault {
	case "":
	case FaultURL:
		if o.RedirectTo != "" {
			base := strings.TrimRight(o.RedirectTo, "/")
			o.PublicURL, o.BillingURL, o.Respond, o.Mode = base, base, nil, ModeBid
		}
	default:
		s.applyFault(w, r, SurfaceBid, fault)
		return
	}
	if o.Respond != nil {
		status, b := o.Respond(&req)
		s.write(w, r, status, b)
		return
	}
	switch o.Mode {
	case ModeHang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
			panic(http.ErrAbortHandler) // cut the connection: a hanging DSP never answers
		}
	case Mode5xx:
		http.Error(w, "simulated failure", http.StatusInternalServerError)
	case ModeGarbage:
		s.write(w, r, http.StatusOK, []byte("<html>this is not OpenRTB</html>"))
	case ModeHuge:
		s.huge(w, o.HugeBytes)
	case ModeNoBid204:
		w.WriteHeader(http.StatusNoContent)
	case ModeNoBidEmpty:
		w.WriteHeader(http.StatusOK)
	case ModeNoBidObject:
		s.write(w, r, http.StatusOK, []byte(`{}`))
	case ModeNoBidSeatbid:
		s.write(w, r, http.StatusOK, []byte(`{"id":"`+req.ID+`","seatbid":[]}`))
	case ModeNoBidNBR:
		s.write(w, r, http.StatusOK, []byte(`{"id":"`+req.ID+`","nbr":2}`))
	case ModeNoBidEmptyCur:
		s.write(w, r, http.StatusOK, []byte(`{"id":"","seatbid":[],"bidid":"sim","cur":"KRW"}`))
	default:
		s.write(w, r, http.StatusOK, Bids(&req, o, n))
	}
}

// huge streams a large valid-looking answer until size or the caller leaves.
func (s *Server) huge(w http.ResponseWriter, size int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"id":"x","seatbid":[{"bid":[{"id":"`)
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for written := 0; written < size; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	io.WriteString(w, `"}]}]}`)
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	gz := s.opts.Gzip
	s.mu.Unlock()
	if gz && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && len(body) > 0 {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// Bids is the answer the simulator gives in ModeBid: one bid per imp, with
// markup in adm unless Options.Creative is CreativeNURL.
func Bids(req *openrtb2.BidRequest, o Options, call int) []byte {
	o = withDefaults(o, o.PublicURL)
	type bid struct {
		ID      string      `json:"id"`
		ImpID   string      `json:"impid"`
		Price   json.Number `json:"price"`
		AdID    string      `json:"adid"`
		AdM     string      `json:"adm,omitempty"`
		NURL    string      `json:"nurl,omitempty"`
		BURL    string      `json:"burl,omitempty"`
		ADomain []string    `json:"adomain,omitempty"`
		CrID    string      `json:"crid"`
		W       int64       `json:"w,omitempty"`
		H       int64       `json:"h,omitempty"`
	}
	macro := func(name string) string {
		if o.BareMacros {
			return "{AUCTION_" + name + "}"
		}
		return "${AUCTION_" + name + "}"
	}
	q := "price=" + macro("PRICE") + "&cur=" + macro("CURRENCY") + "&auction=" + macro("ID") +
		"&imp=" + macro("IMP_ID") + "&bid=" + macro("BID_ID") + "&seat=" + macro("SEAT_ID") + "&ad=" + macro("AD_ID")
	var bids []bid
	for _, imp := range req.Imp {
		b := bid{
			ID: fmt.Sprintf("%d-%s", call, imp.ID), ImpID: imp.ID, Price: json.Number(o.Price),
			AdID: "ad-" + imp.ID, CrID: "cr-" + imp.ID, ADomain: o.ADomain,
		}
		if imp.Banner != nil && len(imp.Banner.Format) > 0 {
			b.W, b.H = imp.Banner.Format[0].W, imp.Banner.Format[0].H
		}
		if o.Creative != CreativeNURL {
			w, h := slotSize(&imp)
			b.W, b.H = w, h
			b.AdM = markup(o, w, h, q)
		}
		if !o.NoNURL {
			b.NURL = o.PublicURL + "/win?" + q
		}
		if !o.NoBURL {
			b.BURL = o.BillingURL + "/bill?" + q
		}
		bids = append(bids, b)
	}
	var cur any = o.Currency
	if o.CurAsArray {
		cur = []string{o.Currency}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // keep & in notice URLs readable
	enc.Encode(map[string]any{
		"id":      req.ID,
		"bidid":   fmt.Sprintf("sim-%d", call),
		"cur":     cur,
		"seatbid": []any{map[string]any{"seat": o.Seat, "bid": bids}},
	})
	return bytes.TrimSpace(out.Bytes())
}
