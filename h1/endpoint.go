package h1

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Endpoint posts to one plain-http URL (a DSP's bid endpoint) with a fixed
// set of headers, over its own Pool.
type Endpoint struct {
	pool *Pool
	head []byte // request line and fixed headers, up to "Content-Length: "
}

// NewEndpoint returns an Endpoint for endpoint when it is a plain-http URL,
// else nil. maxConns connections are kept idle; timeout bounds a dial;
// maxBody bounds an answer's body (framing included). headers (name, value
// pairs) are sent on every request, after the fixed ones.
func NewEndpoint(endpoint string, maxConns int, timeout time.Duration, maxBody int64, headers []string) *Endpoint {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil {
		return nil
	}
	for _, h := range headers {
		if strings.ContainsAny(h, "\r\n\x00") {
			return nil // net/http refuses such a request, with its reason
		}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	target := u.RequestURI()
	head := make([]byte, 0, 256)
	head = append(head, "POST "...)
	head = append(head, target...)
	head = append(head, " HTTP/1.1\r\nHost: "...)
	head = append(head, u.Host...)
	head = append(head, "\r\n"...)
	if !slices.Contains(headers, "User-Agent") { // net/http's default, unless dsps[].headers sets one
		head = append(head, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		head = append(head, headers[i]...)
		head = append(head, ": "...)
		head = append(head, headers[i+1]...)
		head = append(head, "\r\n"...)
	}
	head = append(head, "Content-Length: "...)
	return &Endpoint{
		pool: NewPool(addr, Options{MaxIdle: maxConns, DialTimeout: timeout, MaxBodyBytes: maxBody}),
		head: head,
	}
}

// bufs recycles request buffers: the head, then the body.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Post sends body and reads the answer's status and headers. The caller
// reads resp.Body and then calls done exactly once (see Pool.Do).
func (e *Endpoint) Post(ctx context.Context, body []byte) (resp *http.Response, done func(), err error) {
	bp := bufs.Get().(*[]byte)
	b := append((*bp)[:0], e.head...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	// Head and body copied together: one write system call per request.
	b = append(b, body...)
	resp, done, err = e.pool.Do(ctx, b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufs.Put(bp)
	}
	return resp, done, err
}

// CloseIdle closes the waiting connections; those in use are closed when
// their call ends. The Endpoint keeps no connection from then on.
func (e *Endpoint) CloseIdle() { e.pool.CloseIdle() }
