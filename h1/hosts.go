package h1

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// MaxHosts is how many host:port pools a Hosts keeps at most: the hosts a
// caller names are untrusted (notice URLs), so a flood of distinct ones
// evicts pools instead of growing without bound.
const MaxHosts = 256

// Hosts sends GET requests to varying paths on varying hosts, each host:port
// with its own Pool (created on first use, at most MaxHosts). It is safe
// for concurrent use.
type Hosts struct {
	o     Options
	mu    sync.Mutex
	pools map[string]*Pool
}

// NewHosts returns an empty Hosts whose pools follow o.
func NewHosts(o Options) *Hosts {
	return &Hosts{o: o, pools: map[string]*Pool{}}
}

// pool is addr's pool, made on first use; a new one past MaxHosts evicts
// another (its idle connections closed).
func (h *Hosts) pool(addr string) *Pool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.pools[addr]; ok {
		return p
	}
	if len(h.pools) >= MaxHosts {
		for a, p := range h.pools { // map order: an arbitrary victim
			p.CloseIdle()
			delete(h.pools, a)
			break
		}
	}
	p := NewPool(addr, h.o)
	h.pools[addr] = p
	return p
}

// errBadRequest refuses a request line or header that would not be one.
var errBadRequest = errors.New("h1: control character in the request target or a header")

// getBufs recycles GET request buffers.
var getBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Get sends "GET target" to addr (host:port to dial) with host as the Host
// header and the given headers (name, value pairs), and reads the answer's
// status and headers. The caller reads resp.Body and then calls done
// exactly once (see Pool.Do). A target, host or header with a control
// character is refused without a connection.
func (h *Hosts) Get(ctx context.Context, addr, host, target string, headers ...string) (resp *http.Response, done func(), err error) {
	if hasCTL(target) || hasCTL(host) {
		return nil, nil, errBadRequest
	}
	for _, v := range headers {
		if hasCTL(v) {
			return nil, nil, errBadRequest
		}
	}
	bp := getBufs.Get().(*[]byte)
	b := append((*bp)[:0], "GET "...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for i := 0; i+1 < len(headers); i += 2 {
		b = append(b, headers[i]...)
		b = append(b, ": "...)
		b = append(b, headers[i+1]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	resp, done, err = h.pool(addr).Do(ctx, b)
	if cap(b) <= 16<<10 {
		*bp = b[:0]
		getBufs.Put(bp)
	}
	return resp, done, err
}

// hasCTL reports an ASCII control character (or DEL): in a request line or
// header it would end the line early or be refused by the server.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// CloseIdle closes every pool's waiting connections and forgets the pools;
// calls in flight finish, and their connections are closed when they end.
func (h *Hosts) CloseIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for a, p := range h.pools {
		p.CloseIdle()
		delete(h.pools, a)
	}
}
