package auction

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// h1Client posts bid requests to one plain-http DSP endpoint over HTTP/1.1
// keep-alive connections, in the calling goroutine: it writes the request
// and reads the answer itself. net/http's transport hands every request to
// two goroutines per connection (a writer and a reader) and back, which
// cost about a tenth of the bridge's CPU per auction in profiles. https
// endpoints keep net/http (TLS, HTTP/2).
//
// It does what the DSP call needs and no more: POST with a fixed set of
// headers, no redirects (a 3xx is returned as it is), no proxy. Responses
// are parsed by net/http's ReadResponse (status line, headers, chunked or
// Content-Length bodies).
type h1Client struct {
	addr   string // host:port to dial
	head   []byte // request line and fixed headers, up to "Content-Length: "
	dialer net.Dialer
	idle   chan *h1Conn // at most max_conns connections wait here
	// idleFor is how long a connection may wait unused (h1IdleTimeout).
	idleFor time.Duration
	closed  atomic.Bool
}

// h1Conn is one keep-alive connection and its read buffer.
type h1Conn struct {
	net.Conn
	br    *bufio.Reader
	limit h1Limit
	// idle closes the connection once it waited h1IdleTimeout unused, so
	// that connections the DSP closed do not linger half-closed.
	idle *time.Timer
}

// h1Limit bounds the bytes read from a connection per answer: its headers
// and body together, whatever the framing (readAnswer bounds the decoded
// body on its own).
type h1Limit struct {
	c    net.Conn
	left int64
	read int64 // bytes read for the current answer
}

func (l *h1Limit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errAnswerTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.c.Read(p)
	l.left -= int64(n)
	l.read += int64(n)
	return n, err
}

// Limits of the plain-http client, as the transport's were.
const (
	h1MaxHeaderBytes = 64 << 10
	h1IdleTimeout    = 90 * time.Second
	h1ReadBuffer     = 4 << 10
	// h1BodyLimit allows for chunked framing around the largest answer.
	h1BodyLimit = 2 * MaxDSPAnswer
)

var errAnswerTooLarge = errors.New("answer larger than the read limit")

// aLongTimeAgo is a deadline in the past: it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// newH1Client returns a client for endpoint when it is a plain-http URL,
// else nil. headers are sent on every request, after the fixed ones.
func newH1Client(endpoint string, maxConns int, timeout time.Duration, headers []string) *h1Client {
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
	return &h1Client{
		addr: addr, head: head,
		dialer: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		idle:   make(chan *h1Conn, max(maxConns, 1)), idleFor: h1IdleTimeout,
	}
}

// heads recycles request buffers: the head, then the body.
var heads = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// post sends body and reads the answer's status and headers. The caller
// reads resp.Body and then calls done exactly once: the connection is kept
// for the next call only when the body was read to its end.
func (c *h1Client) post(ctx context.Context, body []byte) (resp *http.Response, done func(), err error) {
	pc, reused, err := c.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	resp, stop, err := c.roundTrip(ctx, pc, body)
	if err != nil && reused && ctx.Err() == nil && pc.limit.read == 0 && staleConn(err) {
		// The DSP closed the idle connection as it was taken: nothing was
		// answered, so the request goes once more on a new connection.
		if pc, err = c.dial(ctx); err != nil {
			return nil, nil, err
		}
		resp, stop, err = c.roundTrip(ctx, pc, body)
	}
	if err != nil {
		return nil, nil, err
	}
	return resp, c.releaser(pc, resp, stop), nil
}

// roundTrip writes the request on pc and reads the answer's head, within
// ctx: its deadline becomes the connection's, and its cancellation
// interrupts a blocked read or write (stop unhooks that; false: it fired).
// On an error pc is closed.
func (c *h1Client) roundTrip(ctx context.Context, pc *h1Conn, body []byte) (*http.Response, func() bool, error) {
	d, _ := ctx.Deadline() // none: the zero time, no deadline
	pc.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { pc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, func() bool, error) {
		stop()
		pc.Close()
		return nil, nil, callCause(ctx, err)
	}
	// Headers may take h1MaxHeaderBytes (and the read buffer's look-ahead);
	// once they are parsed the body gets its own allowance.
	pc.limit.left, pc.limit.read = h1MaxHeaderBytes+h1ReadBuffer, 0
	hp := heads.Get().(*[]byte)
	h := append((*hp)[:0], c.head...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	h = append(h, "\r\n\r\n"...)
	// One write of head and body copied together: a write system call per
	// request. (net.Buffers' writev would save the copy, but the race
	// detector does not see it as a write, so tests would report the
	// DSP's reads of what the caller wrote before the call as races.)
	h = append(h, body...)
	_, err := pc.Write(h)
	if cap(h) <= 64<<10 {
		*hp = h[:0]
		heads.Put(hp)
	}
	if err != nil {
		return fail(err)
	}
	for {
		resp, err := http.ReadResponse(pc.br, nil)
		if errors.Is(err, errAnswerTooLarge) {
			err = fmt.Errorf("answer headers larger than %d bytes", h1MaxHeaderBytes)
		}
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // an interim answer (103 Early Hints): the real one follows
		}
		pc.limit.left += h1BodyLimit
		return resp, stop, nil
	}
}

// callCause returns ctx's error when ctx ended the call: a connection
// deadline set from ctx can fire a moment before ctx itself says so.
func callCause(ctx context.Context, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			<-ctx.Done()
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// releaser returns the done function of a call: it keeps pc when the body
// was read to its end, the DSP did not ask to close and ctx did not
// interrupt the connection; else it closes pc.
func (c *h1Client) releaser(pc *h1Conn, resp *http.Response, stop func() bool) func() {
	eof := &eofBody{r: resp.Body, ended: resp.ContentLength == 0} // 204, 304, or an empty body
	resp.Body = eof
	return func() {
		interrupted := !stop()
		if !eof.ended || resp.Close || interrupted || c.closed.Load() {
			pc.Close()
			return
		}
		if pc.idle == nil {
			pc.idle = time.AfterFunc(c.idleFor, func() { pc.Close() })
		} else {
			pc.idle.Reset(c.idleFor)
		}
		select {
		case c.idle <- pc:
		default:
			pc.idle.Stop()
			pc.Close()
		}
	}
}

// eofBody notes when the body was read to its end.
type eofBody struct {
	r     io.ReadCloser
	ended bool
}

func (b *eofBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.ended = true
	}
	return n, err
}

func (b *eofBody) Close() error { return nil } // the connection is the caller's done

// conn takes an idle connection (reused) or dials a new one.
func (c *h1Client) conn(ctx context.Context) (pc *h1Conn, reused bool, err error) {
	for {
		select {
		case pc = <-c.idle:
			if pc.idle.Stop() {
				return pc, true, nil
			}
			continue // it waited too long and was closed
		default:
		}
		pc, err = c.dial(ctx)
		return pc, false, err
	}
}

func (c *h1Client) dial(ctx context.Context) (*h1Conn, error) {
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, callCause(ctx, err)
	}
	return newH1Conn(nc), nil
}

func newH1Conn(nc net.Conn) *h1Conn {
	pc := &h1Conn{Conn: nc}
	pc.limit.c = nc
	pc.br = bufio.NewReaderSize(&pc.limit, h1ReadBuffer)
	return pc
}

// staleConn tells a connection the DSP had already closed: the write or
// the first read failed with a reset or an end of stream.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// closeIdle closes the waiting connections; those in use are closed when
// their call ends.
func (c *h1Client) closeIdle() {
	c.closed.Store(true)
	for {
		select {
		case pc := <-c.idle:
			pc.idle.Stop()
			pc.Close()
		default:
			return
		}
	}
}
