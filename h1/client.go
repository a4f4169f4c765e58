// Package h1 is a lean HTTP/1.1 keep-alive client for plain-http endpoints
// called often: a DSP's bid endpoint (Endpoint), the hosts of win and
// billing notices (Hosts).
//
// It writes the request and reads the answer in the calling goroutine.
// net/http's transport hands every request to two goroutines per
// connection (a writer and a reader) and back, which cost about a tenth of
// the bridge's CPU per auction, and most of a notice's, in profiles. https
// keeps net/http (TLS, HTTP/2).
//
// It does what those calls need and no more: a request the caller wrote,
// no redirects (a 3xx is returned as it is), no proxy, no compression.
// Responses are parsed by net/http's ReadResponse (status line, headers,
// chunked or Content-Length bodies), within bounds on the bytes read.
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultIdleTimeout    = 90 * time.Second
	// DefaultMaxBodyBytes is the raw bytes of a body, framing included.
	DefaultMaxBodyBytes = 2 << 20
)

// readBuffer is the size of a connection's read buffer.
const readBuffer = 4 << 10

// Options configure a Pool. The zero value of a field means its default.
type Options struct {
	// MaxIdle is how many connections wait for the next call (at least 1).
	MaxIdle int
	// MaxConns bounds the calls in flight at once; more wait for one to
	// end or for their context (0: no bound).
	MaxConns int
	// IdleTimeout is how long a connection may wait unused.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds an answer's status line and headers.
	MaxHeaderBytes int64
	// MaxBodyBytes bounds the bytes read for an answer's body, chunked
	// framing included: past it a read fails.
	MaxBodyBytes int64
	// HeaderTimeout, if set, bounds the time from the request's write to
	// the answer's headers (the context still bounds the whole call).
	HeaderTimeout time.Duration
	// Dial connects to an address (nil: a net.Dialer with DialTimeout).
	// It is where a caller checks the address actually dialled.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTimeout bounds a dial by the default Dial (0: only the context).
	DialTimeout time.Duration
}

// Pool holds the keep-alive connections to one host:port. It is safe for
// concurrent use.
type Pool struct {
	addr  string // host:port to dial
	o     Options
	idle  chan *conn    // at most MaxIdle connections wait here
	slots chan struct{} // calls in flight (MaxConns); nil: unbounded
	// idleFor is how long a connection may wait unused (tests shorten it).
	idleFor time.Duration
	closed  atomic.Bool
}

// conn is one keep-alive connection and its read buffer.
type conn struct {
	net.Conn
	br    *bufio.Reader
	limit limit
	// idle closes the connection once it waited idleFor unused, so
	// that connections the server closed do not linger half-closed.
	idle *time.Timer
}

// limit bounds the bytes read from a connection per answer: its headers
// and body together, whatever the framing (callers bound the decoded body
// on their own).
type limit struct {
	c    net.Conn
	left int64
	read int64 // bytes read for the current answer
}

func (l *limit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.c.Read(p)
	l.left -= int64(n)
	l.read += int64(n)
	return n, err
}

// ErrTooLarge is returned by a read past an answer's byte bounds.
var ErrTooLarge = errors.New("answer larger than the read limit")

// aLongTimeAgo is a deadline in the past: it interrupts a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// NewPool returns the pool of connections to addr (host:port).
func NewPool(addr string, o Options) *Pool {
	o.MaxIdle = max(o.MaxIdle, 1)
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
		o.Dial = d.DialContext
	}
	p := &Pool{addr: addr, o: o, idle: make(chan *conn, o.MaxIdle), idleFor: o.IdleTimeout}
	if o.MaxConns > 0 {
		p.slots = make(chan struct{}, o.MaxConns)
	}
	return p
}

// Do writes req (a whole HTTP/1.1 request) and reads the answer's status
// and headers. The caller reads resp.Body and then calls done exactly
// once: the connection is kept for the next call only when the body was
// read to its end. req is not kept after Do returns. A request that met a
// connection the server had closed while it was idle is sent once more on
// a new one, so req must be safe to repeat.
func (p *Pool) Do(ctx context.Context, req []byte) (resp *http.Response, done func(), err error) {
	if p.slots != nil {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		}
	}
	resp, done, err = p.do(ctx, req)
	if p.slots != nil {
		if err != nil {
			<-p.slots
		} else {
			inner := done
			done = func() { inner(); <-p.slots }
		}
	}
	return resp, done, err
}

func (p *Pool) do(ctx context.Context, req []byte) (*http.Response, func(), error) {
	pc, reused, err := p.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	resp, stop, err := p.roundTrip(ctx, pc, req)
	if err != nil && reused && ctx.Err() == nil && pc.limit.read == 0 && staleConn(err) {
		// The server closed the idle connection as it was taken: nothing
		// was answered, so the request goes once more on a new connection.
		if pc, err = p.dial(ctx); err != nil {
			return nil, nil, err
		}
		resp, stop, err = p.roundTrip(ctx, pc, req)
	}
	if err != nil {
		return nil, nil, err
	}
	return resp, p.releaser(pc, resp, stop), nil
}

// roundTrip writes the request on pc and reads the answer's head, within
// ctx: its deadline becomes the connection's, and its cancellation
// interrupts a blocked read or write (stop unhooks that; false: it fired).
// On an error pc is closed.
func (p *Pool) roundTrip(ctx context.Context, pc *conn, req []byte) (*http.Response, func() bool, error) {
	d, _ := ctx.Deadline() // none: the zero time, no deadline
	head := d
	if p.o.HeaderTimeout > 0 {
		if h := time.Now().Add(p.o.HeaderTimeout); d.IsZero() || h.Before(d) {
			head = h
		}
	}
	pc.SetDeadline(head)
	stop := context.AfterFunc(ctx, func() { pc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, func() bool, error) {
		stop()
		pc.Close()
		return nil, nil, Cause(ctx, err)
	}
	// Headers may take MaxHeaderBytes (and the read buffer's look-ahead);
	// once they are parsed the body gets its own allowance.
	pc.limit.left, pc.limit.read = p.o.MaxHeaderBytes+readBuffer, 0
	// One write: a write system call per request. (net.Buffers' writev
	// would save the caller's copy, but the race detector does not see it
	// as a write, so tests would report the server's reads of what the
	// caller wrote before the call as races.)
	if _, err := pc.Write(req); err != nil {
		return fail(err)
	}
	for {
		resp, err := http.ReadResponse(pc.br, nil)
		if errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("answer headers larger than %d bytes", p.o.MaxHeaderBytes)
		}
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // an interim answer (103 Early Hints): the real one follows
		}
		if head != d {
			pc.SetDeadline(d) // the body has the rest of the call's time
		}
		pc.limit.left += p.o.MaxBodyBytes
		return resp, stop, nil
	}
}

// Cause returns ctx's error (wrapping err) when ctx ended the call: a
// connection deadline set from ctx can fire a moment before ctx itself
// says so.
func Cause(ctx context.Context, err error) error {
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
// was read to its end, the server did not ask to close and ctx did not
// interrupt the connection; else it closes pc.
func (p *Pool) releaser(pc *conn, resp *http.Response, stop func() bool) func() {
	eof := &eofBody{r: resp.Body, ended: resp.ContentLength == 0} // 204, 304, or an empty body
	resp.Body = eof
	return func() {
		interrupted := !stop()
		if !eof.ended || resp.Close || interrupted || p.closed.Load() {
			pc.Close()
			return
		}
		if pc.idle == nil {
			pc.idle = time.AfterFunc(p.idleFor, func() { pc.Close() })
		} else {
			pc.idle.Reset(p.idleFor)
		}
		select {
		case p.idle <- pc:
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
func (p *Pool) conn(ctx context.Context) (pc *conn, reused bool, err error) {
	for {
		select {
		case pc = <-p.idle:
			if pc.idle.Stop() {
				return pc, true, nil
			}
			continue // it waited too long and was closed
		default:
		}
		pc, err = p.dial(ctx)
		return pc, false, err
	}
}

func (p *Pool) dial(ctx context.Context) (*conn, error) {
	nc, err := p.o.Dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, Cause(ctx, err)
	}
	return newConn(nc), nil
}

func newConn(nc net.Conn) *conn {
	pc := &conn{Conn: nc}
	pc.limit.c = nc
	pc.br = bufio.NewReaderSize(&pc.limit, readBuffer)
	return pc
}

// staleConn tells a connection the server had already closed: the write
// or the first read failed with a reset or an end of stream.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// CloseIdle closes the waiting connections and makes the pool keep none
// from now on; those in use are closed when their call ends.
func (p *Pool) CloseIdle() {
	p.closed.Store(true)
	for {
		select {
		case pc := <-p.idle:
			pc.idle.Stop()
			pc.Close()
		default:
			return
		}
	}
}
