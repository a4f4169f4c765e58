package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/adshares/dsp-bridge/h1"
)

// MaxRedirects is the most redirects any fetch follows.
const MaxRedirects = 3

// Defaults of Options.
const (
	DefaultMaxBodyBytes          = 64 << 10
	DefaultDialTimeout           = 3 * time.Second
	DefaultTLSHandshakeTimeout   = 3 * time.Second
	DefaultResponseHeaderTimeout = 5 * time.Second
	DefaultUserAgent             = "adshares-dsp-bridge"
)

// Options configure a Client. The zero value of a field means its default.
type Options struct {
	// Allow lists the networks this client may reach although the policy
	// refuses them (a DSP's allow_networks).
	Allow []netip.Prefix
	// Proxy, if set, carries every request. Proxy environment variables
	// are never read. The proxy's own address is not checked (the operator
	// chose it), and it resolves names itself, so it must apply its own
	// egress rules; URLs, literal IP hosts and redirects are still checked.
	Proxy *url.URL
	// MaxRedirects is how many redirects to follow, at most MaxRedirects
	// (the default); negative: none.
	MaxRedirects int
	// MaxURLLength bounds every URL, redirects included (DefaultMaxURLLength).
	MaxURLLength int
	// MaxBodyBytes bounds the body a response may have (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Timeout bounds a whole fetch, redirects and body included (0: only
	// the context bounds it).
	Timeout               time.Duration
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	// MaxConnsPerHost and MaxIdleConnsPerHost size the connection pool
	// (0: unbounded and net/http's default of 2).
	MaxConnsPerHost     int
	MaxIdleConnsPerHost int
	// UserAgent is sent with every request (DefaultUserAgent).
	UserAgent string
	// Resolver resolves host names (nil: the system's). Tests point it at
	// their own DNS server.
	Resolver *net.Resolver
}

// Client fetches URLs under a Policy. It is safe for concurrent use. Give
// each distinct allow list its own Client: connections are pooled per
// client, and one dialled under an exception must not serve a caller
// without it.
type Client struct {
	policy    *Policy
	http      *http.Client // Do: net/http follows redirects (checkRedirect)
	single    *http.Client // Get's https hops: one request each, Get follows
	transport *http.Transport
	plain     *h1.Hosts // Get's http hops (nil with a proxy)
	redirects int
	maxBody   int64
	timeout   time.Duration
	userAgent string
}

// New builds a Client.
func New(o Options) *Client {
	c := &Client{
		policy:    NewPolicy(o.Allow, o.MaxURLLength),
		redirects: o.MaxRedirects,
		maxBody:   o.MaxBodyBytes,
		timeout:   o.Timeout,
		userAgent: o.UserAgent,
	}
	if c.redirects == 0 || c.redirects > MaxRedirects {
		c.redirects = MaxRedirects
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	dialer := &net.Dialer{
		Timeout:   or(o.DialTimeout, DefaultDialTimeout),
		KeepAlive: 30 * time.Second,
		Resolver:  o.Resolver,
		Control:   c.control,
	}
	tr := &http.Transport{
		Proxy:                 nil, // never http.ProxyFromEnvironment
		DialContext:           dialer.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		MaxConnsPerHost:       o.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   or(o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: or(o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout),
	}
	if o.Proxy != nil {
		// Only the proxy is ever dialled: its address is the operator's
		// choice, not the DSP's, so it is not subject to the policy.
		tr.Proxy = http.ProxyURL(o.Proxy)
		dialer.Control = nil
	}
	c.transport = tr
	c.http = &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: c.checkRedirect}
	c.single = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if o.Proxy == nil {
		// The same dialer (and so the same address check), pool sizes,
		// idle and header timeouts as the transport's.
		c.plain = h1.NewHosts(h1.Options{
			MaxIdle:       orInt(o.MaxIdleConnsPerHost, http.DefaultMaxIdleConnsPerHost),
			MaxConns:      o.MaxConnsPerHost,
			IdleTimeout:   tr.IdleConnTimeout,
			HeaderTimeout: tr.ResponseHeaderTimeout,
			// A body of MaxBodyBytes, and its chunked framing.
			MaxBodyBytes: 2*c.maxBody + 64<<10,
			Dial:         dialer.DialContext,
		})
	}
	return c
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// Policy is the client's policy, for checks at bid time.
func (c *Client) Policy() *Policy { return c.policy }

// CheckURL is Policy().CheckURL.
func (c *Client) CheckURL(raw string) error { return c.policy.CheckURL(raw) }

// CloseIdleConnections closes the pooled connections not in use.
func (c *Client) CloseIdleConnections() {
	c.transport.CloseIdleConnections()
	if c.plain != nil {
		c.plain.CloseIdle()
	}
}

// control runs on every connection the dialer is about to make, with the
// address it resolved: this is what covers names resolving to refused
// addresses, DNS rebinding and redirects alike.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return refuse(KindURL, "network %s is not TCP", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse(KindHost, "dial address %q is not an IP address", address)
	}
	return c.policy.CheckAddr(ap.Addr())
}

type hopsKey struct{}

// checkRedirect applies the policy's URL check and the redirect bound to
// every redirect; the dialer checks its address like any other.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if h, ok := req.Context().Value(hopsKey{}).(*int); ok {
		*h = len(via)
	}
	if len(via) > c.redirects {
		r := refuse(KindRedirects, "more than %d redirects", c.redirects)
		if c.redirects < 0 {
			r = refuse(KindRedirects, "redirects are not followed")
		}
		r.Redirect = len(via)
		return r
	}
	if _, r := c.policy.checkURL(req.URL.String()); r != nil {
		r.Redirect = len(via)
		return r
	}
	return nil
}

// Do sends req under the policy. A refusal is returned as a *RefusedError
// (not wrapped), anything else as net/http returns it. The response body
// fails with ErrBodyTooLarge past MaxBodyBytes; the caller closes it.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if _, r := c.policy.checkURL(req.URL.String()); r != nil {
		return nil, r
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	hops := new(int)
	req = req.WithContext(context.WithValue(req.Context(), hopsKey{}, hops))
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if r, ok := AsRefused(err); ok {
			cp := *r // a dial error may be shared; keep the caller's own
			if cp.Redirect == 0 {
				cp.Redirect = *hops
			}
			return nil, &cp
		}
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: c.maxBody}
	return resp, nil
}

// ErrBodyTooLarge is returned by a response body read past MaxBodyBytes.
var ErrBodyTooLarge = errors.New("outbound: response body larger than the limit")

// limitedBody reads at most left bytes and then fails with ErrBodyTooLarge
// if the body has more.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Is there more? One byte tells, and is not returned.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
