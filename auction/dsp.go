package auction

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/sony/gobreaker/v2"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/h1"
)

// MaxDSPAnswer bounds how much of a DSP's answer is read (after gzip): an
// OpenRTB answer for a few slots is a few kB, so a DSP sending megabytes is
// cut off instead of costing memory.
const MaxDSPAnswer = 1 << 20

// OpenRTBVersionHeader tells the DSP which OpenRTB version the body follows.
const OpenRTBVersionHeader = "X-Openrtb-Version"

// dspClient calls one DSP: its own connection pool, breaker and limit.
type dspClient struct {
	cfg       config.DSP
	order     int
	client    *http.Client
	transport *http.Transport
	plain     *h1.Endpoint  // http:// endpoints: calls skip client and transport
	headers   []string      // requestHeaders(cfg)
	breaker   *breaker      // nil: disabled
	slots     chan struct{} // bounds calls in flight (dsps[].max_conns)
	rateNanos int64         // USD value of one unit of its currency
	adjPPM    int64         // dsps[].bid_adjustment, parts per million (1e6: none)
	capture   bool          // keep request and answer bodies (log.payloads)
	policy    policy        // privacy, blocking, filters, required fields (policy.go)
	bucket    *bucket       // dsps[].qps; nil: no cap
	stats     *dspStats     // what admits skipped
	reqSize   *atomic.Int64 // bytes of the last request body, plus room: the next one's buffer
}

func newDSPClient(d config.DSP, order int, rateNanos int64, onState func(name string, from, to gobreaker.State)) *dspClient {
	dialer := &net.Dialer{Timeout: d.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil, // DSP calls go direct; a proxy would add latency and a failure point
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    d.Timeout,
		ResponseHeaderTimeout:  d.Timeout,
		MaxIdleConns:           d.MaxConns,
		MaxIdleConnsPerHost:    d.MaxConns,
		MaxConnsPerHost:        d.MaxConns,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true, // gzip is handled here, under the read bound
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c := &dspClient{
		cfg: d, order: order, transport: tr, rateNanos: rateNanos, adjPPM: d.BidAdjustmentPPM(),
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is not an OpenRTB answer
		}},
		slots:   make(chan struct{}, d.MaxConns),
		reqSize: new(atomic.Int64),
	}
	c.headers = requestHeaders(d)
	c.plain = h1.NewEndpoint(d.Endpoint, d.MaxConns, d.Timeout, 2*MaxDSPAnswer, c.headers) // room for chunked framing
	c.breaker = newBreaker(d, onState)
	return c
}

// requestHeaders are the headers of every request to d, as name, value
// pairs in the order they are sent.
func requestHeaders(d config.DSP) []string {
	h := []string{"Content-Type", "application/json", OpenRTBVersionHeader, d.Dialect}
	if d.Gzip {
		h = append(h, "Content-Encoding", "gzip", "Accept-Encoding", "gzip")
	}
	names := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		canon := textproto.CanonicalMIMEHeaderKey(k)
		if canon == "Content-Type" { // dsps[].headers may replace it, as Header.Set did
			h[1] = d.Headers[k]
			continue
		}
		h = append(h, canon, d.Headers[k])
	}
	return h
}

// permit is a call the DSP's call limit and breaker let through.
type permit struct {
	// done reports the call's outcome to the breaker and frees its slot.
	done func(Outcome)
	// probe is a half-open breaker's probe (see callContext).
	probe bool
}

// acquire reserves a call slot and the breaker's permission. ok is false
// (with the reason) when the DSP must not be called now; that costs nothing.
func (c *dspClient) acquire() (p permit, reason Reason, ok bool) {
	select {
	case c.slots <- struct{}{}:
	default:
		return p, ReasonOverloaded, false
	}
	release := func() { <-c.slots }
	if c.breaker == nil {
		return permit{done: func(Outcome) { release() }}, 0, true
	}
	report, probe, err := c.breaker.allow()
	if err != nil {
		release()
		return p, ReasonBreakerOpen, false
	}
	return permit{done: func(o Outcome) { report(o); release() }, probe: probe}, 0, true
}

// answer is what one call produced, and what judging it found.
type answer struct {
	dsp      *dspClient
	sent     *openrtb2.BidRequest // what this DSP was offered
	result   DSPResult
	response *bidResponse
	err      error // why the call failed, if it did

	cands      []candidate
	rejections []Rejection
	// reqBody and respBody are kept only for log.payloads.
	reqBody, respBody []byte
}

// gzipWriters recycles gzip writers: each holds a few hundred kB of
// compressor state, too much to allocate per call.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipReaders recycles gzip readers (tens of kB of decompressor state);
// a zero Reader is made ready by Reset.
var gzipReaders sync.Pool

// answerPool recycles answer buffers; see readAtMost.
var answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// call sends req and reads the answer within ctx. It never reads more than
// MaxDSPAnswer bytes, whatever the DSP sends.
func (c *dspClient) call(ctx context.Context, req *openrtb2.BidRequest) answer {
	start := time.Now()
	a := answer{dsp: c, sent: req, result: DSPResult{DSP: c.cfg.Name}}
	fail := func(o Outcome, r Reason, err error) answer {
		a.result.Outcome, a.result.Reason, a.result.Err, a.err = o, r, err.Error(), err
		a.result.Latency = time.Since(start)
		return a
	}
	// The request body gets its own buffer, never pooled: the transport may
	// still be reading it after Do returns (a DSP that answers early). It
	// is sized from the last request, so that it is allocated once.
	var hint int64
	if c.reqSize != nil {
		hint = c.reqSize.Load()
	}
	body, kept, err := c.encodeRequest(req, hint)
	a.reqBody = kept
	if err != nil {
		return fail(OutcomeError, ReasonError, fmt.Errorf("encode request: %w", err))
	}
	if c.reqSize != nil {
		c.reqSize.Store(int64(len(body) + len(body)/8 + 64))
	}
	resp, done, err := c.send(ctx, body)
	if err != nil {
		if o, why, cut := interrupted(ctx, err); cut {
			return fail(o, why, err)
		}
		return fail(OutcomeError, ReasonUnreachable, err)
	}
	defer done()
	a.result.Status = resp.StatusCode
	if resp.StatusCode == http.StatusNoContent {
		a.result.Outcome, a.result.Reason = OutcomeNoBid, ReasonNoBid
		a.result.Latency = time.Since(start)
		return a
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read a short error page so the connection is reused for the next
		// auction; a long one is cut off (and its connection dropped).
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fail(OutcomeError, ReasonError, fmt.Errorf("status %d", resp.StatusCode))
	}
	if resp.ContentLength > MaxDSPAnswer {
		// Announced as too big: refuse without reading a byte of it.
		return fail(OutcomeError, ReasonInvalidResponse, fmt.Errorf("answer of %d bytes is larger than %d", resp.ContentLength, MaxDSPAnswer))
	}
	r, body, err := readAnswer(resp.Body, resp.Header.Get("Content-Encoding"), len(req.Imp)*c.maxBidsPerImp(), c.capture)
	a.respBody = body
	var read *readError
	if errors.As(err, &read) {
		if o, why, cut := interrupted(ctx, read.err); cut {
			return fail(o, why, err)
		}
	}
	if err != nil {
		return fail(OutcomeError, ReasonInvalidResponse, err)
	}
	a.result.Latency = time.Since(start)
	if r == nil {
		a.result.Outcome, a.result.Reason = OutcomeNoBid, ReasonNoBid
		return a
	}
	a.response = r
	a.result.NBR = r.NBR
	return a
}

// send posts body to the DSP. done ends the call: an unread rest of the
// body drops the connection instead of reusing it.
func (c *dspClient) send(ctx context.Context, body []byte) (resp *http.Response, done func(), err error) {
	if c.plain != nil {
		return c.plain.Post(ctx, body)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	h := c.headers
	for i := 0; i+1 < len(h); i += 2 {
		hreq.Header.Set(h[i], h[i+1])
	}
	resp, err = c.client.Do(hreq)
	if err != nil {
		return nil, nil, err
	}
	return resp, func() { resp.Body.Close() }, nil
}

// readError is a failure to read or gunzip the answer's bytes: the deadline
// cutting the read off (a timeout), or a broken stream (invalid).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// readAnswer reads and decodes an answer body: gunzipped when its
// Content-Encoding says gzip, never more than MaxDSPAnswer bytes (after
// gzip), at most maxBids bids. An empty body is a no-bid (nil, nil),
// whatever Content-Encoding says: gzip middleware often labels empty
// answers too. keep returns a copy of the bytes (log.payloads).
func readAnswer(body io.Reader, contentEncoding string, maxBids int, keep bool) (*bidResponse, []byte, error) {
	body = io.LimitReader(body, MaxDSPAnswer+1)
	if ce := contentEncoding; strings.EqualFold(ce, "gzip") || strings.EqualFold(ce, "x-gzip") {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		defer gzipReaders.Put(zr) // read to the end (or failed) before this returns
		err := zr.Reset(body)
		if err == io.EOF {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, &readError{fmt.Errorf("gzip: %w", err)}
		}
		body = io.LimitReader(zr, MaxDSPAnswer+1)
	}
	pooled := answerPool.Get().(*[]byte)
	defer putAnswer(pooled)
	data, err := readAtMost((*pooled)[:0], body, MaxDSPAnswer)
	*pooled = data
	if err != nil {
		return nil, nil, &readError{fmt.Errorf("read answer: %w", err)}
	}
	if len(data) > MaxDSPAnswer {
		return nil, nil, fmt.Errorf("answer larger than %d bytes", MaxDSPAnswer)
	}
	var kept []byte
	if keep {
		kept = bytes.Clone(data)
	}
	r, err := parseBidResponse(data, maxBids)
	return r, kept, err
}

func putAnswer(b *[]byte) {
	if cap(*b) <= 64<<10 { // do not keep a buffer a huge answer grew
		answerPool.Put(b)
	}
}

// readAtMost appends r to b, growing b to at most limit+1 bytes: an answer
// over the limit costs limit+1 bytes (plus the doublings up to it), never
// its whole size, and the caller sees len > limit.
func readAtMost(b []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				return b, nil
			}
			grown := make([]byte, len(b), min(max(2*cap(b), 4<<10), limit+1))
			copy(grown, b)
			b = grown
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// Causes that end a call's context as the DSP's timeout; anything else that
// ends it (the caller hanging up, the bridge shutting down) is not the
// DSP's failure.
var (
	errAuctionDeadline = errors.New("auction deadline")
	errDSPTimeout      = errors.New("dsp timeout")
)

// interrupted classifies a failed call: cut off by the auction's deadline,
// the DSP's timeout or the transport's own timeouts (timeout), or by our
// caller hanging up or the bridge stopping (cancelled: not the DSP's
// failure). cut is false for any other failure.
func interrupted(ctx context.Context, err error) (o Outcome, r Reason, cut bool) {
	if ctx.Err() != nil {
		if c := context.Cause(ctx); errors.Is(c, errAuctionDeadline) || errors.Is(c, errDSPTimeout) {
			return OutcomeTimeout, ReasonTimeout, true
		}
		return OutcomeCancelled, ReasonCancelled, true
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return OutcomeTimeout, ReasonTimeout, true
	}
	return "", 0, false
}

func (c *dspClient) close() {
	c.transport.CloseIdleConnections()
	if c.plain != nil {
		c.plain.CloseIdle()
	}
}

// budget is what the DSP gets when left is what remains of the auction:
// limit, how long its call may take (its timeout, or left if less), and
// tmax, what it is told: limit less its round-trip allowance. ok is false
// when that tmax is under config.MinDSPTMax: the DSP is not called.
func (c *dspClient) budget(left time.Duration) (limit, tmax time.Duration, ok bool) {
	limit = min(c.cfg.Timeout, left)
	tmax = limit - c.cfg.TMaxAllowance
	return limit, tmax, tmax >= config.MinDSPTMax
}

// maxBidsPerImp is dsps[].max_bids_per_imp (config fills in the default;
// a client built without config gets it too).
func (c *dspClient) maxBidsPerImp() int {
	if c.cfg.MaxBidsPerImp > 0 {
		return c.cfg.MaxBidsPerImp
	}
	return config.DefaultDSPMaxBidsPerImp
}
