package bench

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Proxy is the floor of a run: the least any server between the AdServer
// and the DSPs must do. It forwards each POSTed body (a BidRequest) as it
// is to every DSP in parallel, reads their answers (each call cut off at
// Timeout) and replies with them, with no parsing and no storage; every
// GET (a view or a click) is answered 204 at once, or with Views set each
// view only once it is durable (views mode). `bridge bench` runs it as its
// own process, like the bridge, so both are measured the same way.
type Proxy struct {
	DSPs    []string      // bid endpoints
	Timeout time.Duration // per DSP call
	Views   *FloorViews   // stores views durably (nil: 204 at once)

	client *http.Client
	bufs   sync.Pool
}

// NewProxy makes a proxy for the given DSP endpoints with pooled
// keep-alive connections to each.
func NewProxy(dsps []string, timeout time.Duration) *Proxy {
	return &Proxy{DSPs: dsps, Timeout: timeout, client: &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}}}
}

func (p *Proxy) buffer() *bytes.Buffer {
	if b, ok := p.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// ServeHTTP answers /healthz 200, any other GET 204 and any POST with the
// DSPs' answers: the one answer as it is, several as a JSON array of them.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		if p.Views != nil && r.URL.Path == "/view" {
			p.Views.serveView(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	in := p.buffer()
	defer p.bufs.Put(in)
	if _, err := in.ReadFrom(r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.Timeout)
	defer cancel()
	answers := make([]*bytes.Buffer, len(p.DSPs))
	var wg sync.WaitGroup
	for i := 1; i < len(p.DSPs); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = p.call(ctx, p.DSPs[i], in.Bytes())
		}()
	}
	answers[0] = p.call(ctx, p.DSPs[0], in.Bytes())
	wg.Wait()
	w.Header().Set("Content-Type", "application/json")
	if len(answers) == 1 {
		if answers[0] != nil {
			w.Write(answers[0].Bytes())
			p.bufs.Put(answers[0])
		}
		return
	}
	out := p.buffer()
	defer p.bufs.Put(out)
	out.WriteByte('[')
	for _, a := range answers {
		if a == nil {
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		out.Write(a.Bytes())
		p.bufs.Put(a)
	}
	out.WriteByte(']')
	w.Write(out.Bytes())
}

// call posts body to one DSP and returns its answer (nil on any failure
// or an empty answer).
func (p *Proxy) call(ctx context.Context, endpoint string, body []byte) *bytes.Buffer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Openrtb-Version", "2.6")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b := p.buffer()
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK || b.Len() == 0 {
		p.bufs.Put(b)
		return nil
	}
	return b
}
