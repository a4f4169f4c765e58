package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Response is a fetched response with its (bounded) body.
type Response struct {
	Status int
	Header http.Header
	// URL is the final URL, after redirects (the URL asked for, as given,
	// when there was none).
	URL string
	// Body holds at most MaxBodyBytes; Truncated says that there was more
	// (the rest was not read).
	Body      []byte
	Truncated bool
}

// Get fetches raw with GET and reads its body up to MaxBodyBytes. When the
// body breaks off after the headers it returns the response read so far
// (its status is known) together with the error.
//
// Get follows redirects itself, one request per hop, each hop's URL
// checked like the first and parsed once: plain-http hops go through the
// lean h1 client (notices are most of what the bridge sends; net/http's
// transport cost more CPU than the view they bill), https hops and every
// hop through a proxy through net/http. Both dial with the same dialer, so
// the address check after DNS is the same.
func (c *Client) Get(ctx context.Context, raw string) (*Response, error) {
	u, r := c.policy.checkURL(raw)
	if r != nil {
		return nil, r
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	at := raw // the URL of this hop, as an error names it
	for hop := 0; ; hop++ {
		resp, done, err := c.hop(ctx, u)
		if err != nil {
			if r, ok := AsRefused(err); ok {
				cp := *r // a dial error may be shared; keep the caller's own
				cp.Redirect = hop
				return nil, &cp
			}
			return nil, &url.Error{Op: "Get", URL: at, Err: err}
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			return c.read(resp, done, at)
		}
		// A short body is read so that the connection serves the next hop.
		io.CopyN(io.Discard, resp.Body, 2<<10)
		done()
		if hop+1 > c.redirects {
			r := refuse(KindRedirects, "more than %d redirects", c.redirects)
			if c.redirects < 0 {
				r = refuse(KindRedirects, "redirects are not followed")
			}
			r.Redirect = hop + 1
			return nil, r
		}
		next, err := u.Parse(loc)
		if err != nil {
			return nil, &url.Error{Op: "Get", URL: at, Err: fmt.Errorf("failed to parse Location header %q: %v", loc, err)}
		}
		at = next.String()
		if u, r = c.policy.checkURL(at); r != nil {
			r.Redirect = hop + 1
			return nil, r
		}
	}
}

// isRedirect tells the statuses net/http follows for a GET.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// hop sends one GET for u (checked by the policy) and returns the answer's
// head; done ends the call (closes or keeps the connection).
func (c *Client) hop(ctx context.Context, u *url.URL) (*http.Response, func(), error) {
	if c.plain != nil && u.Scheme == "http" && plainHost(u.Host) {
		port := u.Port()
		if port == "" {
			port = "80"
		}
		return c.plain.Get(ctx, net.JoinHostPort(u.Hostname(), port), u.Host, u.RequestURI(), "User-Agent", c.userAgent)
	}
	req := (&http.Request{
		Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{"User-Agent": {c.userAgent}},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}).WithContext(ctx)
	resp, err := c.single.Do(req)
	if err != nil {
		return nil, nil, err
	}
	return resp, func() { resp.Body.Close() }, nil
}

// plainHost tells a Host the lean client writes as net/http would: ASCII
// (net/http sends other names in punycode) and without an IPv6 zone
// (which net/http leaves out of the Host header).
func plainHost(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return false
		}
	}
	return !strings.Contains(host, "%")
}

// read reads the final answer's body (bounded) and ends the call.
func (c *Client) read(resp *http.Response, done func(), at string) (*Response, error) {
	defer done()
	out := &Response{Status: resp.StatusCode, Header: resp.Header, URL: at}
	var err error
	out.Body, err = io.ReadAll(&limitedBody{rc: resp.Body, left: c.maxBody})
	if errors.Is(err, ErrBodyTooLarge) {
		out.Truncated = true
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("outbound: reading the body: %w", err)
	}
	return out, nil
}
