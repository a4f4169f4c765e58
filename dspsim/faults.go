package dspsim

// Faults: what a broken or hostile DSP does to the bridge on each of the
// endpoints the bridge calls. A fault replaces the request's normal answer;
// Options.Fault picks one (or none) per request.

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Surface is one of the parts of a DSP the bridge calls.
type Surface string

// Surfaces.
const (
	SurfaceBid  Surface = "bid"  // the bid endpoint (POST)
	SurfaceNURL Surface = "nurl" // GET /win and the creatives: /creative/…, /vast/…, /media/…
	SurfaceBURL Surface = "burl" // GET /bill and the impression notices: /pixel, /impression, /event
)

// Surfaces lists every surface.
var Surfaces = []Surface{SurfaceBid, SurfaceNURL, SurfaceBURL}

// Fault is one way of failing a request.
type Fault string

// Faults.
const (
	FaultHang     Fault = "hang"     // never answer, until the caller gives up
	Fault5xx      Fault = "5xx"      // 503 Service Unavailable
	FaultReset    Fault = "reset"    // close the connection with a TCP RST, nothing answered
	FaultGarbage  Fault = "garbage"  // 200 with a body that is none of what was asked for
	FaultHuge     Fault = "huge"     // 200 with a body of Options.HugeBytes (default 10 MB)
	FaultRedirect Fault = "redirect" // a redirect (307 for POST, 302 for GET) to Options.RedirectTo + the path
	// FaultURL (bid endpoint only) answers real bids whose nurl, burl,
	// creative and pixel URLs all point at Options.RedirectTo.
	FaultURL Fault = "url"
)

// SurfaceFaults lists the faults that apply to a surface.
func SurfaceFaults(s Surface) []Fault {
	all := []Fault{FaultHang, Fault5xx, FaultReset, FaultGarbage, FaultHuge, FaultRedirect}
	if s == SurfaceBid {
		all = append(all, FaultURL)
	}
	return all
}

// RandomFaults returns an Options.Fault that makes each request faulty with
// probability rate, drawn from seed. The faults of a surface come from a
// shuffled deck of kinds (refilled when empty), so that every kind appears
// once in every len(kinds) faults of that surface.
func RandomFaults(rate float64, seed uint64, kinds map[Surface][]Fault) func(Surface) Fault {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, 0xfa17))
	decks := map[Surface][]Fault{}
	return func(s Surface) Fault {
		mu.Lock()
		defer mu.Unlock()
		if len(kinds[s]) == 0 || r.Float64() >= rate {
			return ""
		}
		if len(decks[s]) == 0 {
			d := append([]Fault(nil), kinds[s]...)
			r.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
			decks[s] = d
		}
		f := decks[s][0]
		decks[s] = decks[s][1:]
		return f
	}
}

// SetFault replaces Options.Fault (nil: no faults from now on).
func (s *Server) SetFault(f func(Surface) Fault) {
	s.mu.Lock()
	s.opts.Fault = f
	s.mu.Unlock()
}

// FaultCounts is how many requests of each surface got each fault.
func (s *Server) FaultCounts() map[Surface]map[Fault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Surface]map[Fault]int{}
	for k, n := range s.faults {
		if out[k.s] == nil {
			out[k.s] = map[Fault]int{}
		}
		out[k.s][k.f] = n
	}
	return out
}

type faultKey struct {
	s Surface
	f Fault
}

// pickFault asks Options.Fault for this request's fault and counts it.
func (s *Server) pickFault(surface Surface) Fault {
	s.mu.Lock()
	pick := s.opts.Fault
	s.mu.Unlock()
	if pick == nil {
		return ""
	}
	f := pick(surface)
	if f == FaultURL && surface != SurfaceBid {
		f = "" // only a bid answer names URLs
	}
	if f != "" {
		s.mu.Lock()
		s.faults[faultKey{surface, f}]++
		s.mu.Unlock()
	}
	return f
}

// faultAnswers2xx reports whether a fault answers 200: the caller gets a
// status it must take as success (a burl so answered is delivered).
func faultAnswers2xx(f Fault) bool { return f == FaultGarbage || f == FaultHuge }

// faulty wraps a GET handler of surface with its faults.
func (s *Server) faulty(surface Surface, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f := s.pickFault(surface); f != "" {
			s.applyFault(w, r, surface, f)
			return
		}
		h(w, r)
	}
}

// garbage is what FaultGarbage answers: neither JSON, nor an image, nor VAST.
var garbage = []byte("\x00\xffthis is not what you asked for <html><body>{\"id\":")

// applyFault answers r with fault f instead of its normal answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, surface Surface, f Fault) {
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	switch f {
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
			panic(http.ErrAbortHandler) // cut the connection: a hanging DSP never answers
		}
	case Fault5xx:
		http.Error(w, "simulated fault", http.StatusServiceUnavailable)
	case FaultReset:
		reset(w)
	case FaultGarbage:
		w.Header().Set("Content-Type", "application/json")
		w.Write(garbage)
	case FaultHuge:
		if surface == SurfaceBid {
			s.huge(w, o.HugeBytes)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		chunk := bytes.Repeat([]byte{0xff}, 64<<10)
		for written := 0; written < o.HugeBytes; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case FaultRedirect:
		if o.RedirectTo == "" {
			http.Error(w, "simulated fault: no RedirectTo", http.StatusServiceUnavailable)
			return
		}
		status := http.StatusFound
		if r.Method == http.MethodPost {
			status = http.StatusTemporaryRedirect // keeps the method and the body
		}
		w.Header().Set("Location", strings.TrimRight(o.RedirectTo, "/")+r.URL.RequestURI())
		w.WriteHeader(status)
	default:
		http.Error(w, "simulated fault "+string(f), http.StatusServiceUnavailable)
	}
}

// reset closes the request's connection so that the peer sees a TCP RST:
// no status, no body, "connection reset by peer".
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST, not FIN
	}
	conn.Close()
}
