package adserversim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// ErrNoCase is what a click without a recorded view gets: the AdServer
// answers the browser 404 and never calls the bridge (§3.6).
var ErrNoCase = errors.New("adserversim: no view recorded for this case (the AdServer answers 404)")

// Event is what the browser sends the AdServer for a view or a click of a
// bridge ad (§3.5, §9).
type Event struct {
	ImpressionID string      // iid, 32 hex
	ZoneID       string      // zid, 32 hex
	CaseID       string      // cid exactly as the browser sends it (may have dashes)
	PublisherID  string      // pid, 32 hex
	Extra        [][2]string // other browser query parameters, passed through in order
	Page         Page        // what goes into ctx
}

// Page is the page part of the ctx parameter.
type Page struct {
	URL      string
	Ref      string
	Keywords string
	Metamask int
	Frame    *int   // 0 or 1; nil leaves it out
	Account  string // the user's wallet account; "" leaves "user" out
}

// Case is a view the AdServer recorded: the key of paid events.
type Case struct {
	CaseID      string // normalised: no dashes, lowercase
	PublisherID string
	ExtID       string
	ViewedAt    time.Time
}

// EventResult is the bridge's answer to a view or click call as the
// AdServer read it.
type EventResult struct {
	URL         string // the URL called
	Status      int    // 0 on a transport error
	RedirectURL string // "" when the bridge gave none (204)
	Recorded    bool   // the AdServer recorded the case (view) or click
}

// NormalizeCaseID is what the AdServer does to cid: drop dashes, lowercase.
func NormalizeCaseID(cid string) string {
	return strings.ToLower(strings.ReplaceAll(cid, "-", ""))
}

// EventURL builds the URL the AdServer calls for a view or click (§9): the
// creative's view_url or click_url, "?" or "&", then iid, zid, extid, cid,
// the other browser parameters, pto, pid, iid again on a click, and ctx,
// each PHP-urlencoded.
func EventURL(base, extID, adserverAddr string, ev Event, click bool) (string, error) {
	ctx, err := eventContext(ev)
	if err != nil {
		return "", err
	}
	params := [][2]string{{"iid", ev.ImpressionID}, {"zid", ev.ZoneID}, {"extid", extID}, {"cid", ev.CaseID}}
	params = append(params, ev.Extra...)
	params = append(params, [2]string{"pto", adserverAddr}, [2]string{"pid", ev.PublisherID})
	if click {
		params = append(params, [2]string{"iid", ev.ImpressionID})
	}
	params = append(params, [2]string{"ctx", ctx})
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, p := range params {
		b.WriteString(sep)
		b.WriteString(phpURLEncode(p[0]))
		b.WriteByte('=')
		b.WriteString(phpURLEncode(p[1]))
		sep = "&"
	}
	return b.String(), nil
}

// eventContext is ctx: base64url without padding of the compact JSON
// {"page":{...}[,"user":{"account":...}]}.
func eventContext(ev Event) (string, error) {
	page := Obj{
		{"iid", ev.ImpressionID}, {"keywords", ev.Page.Keywords}, {"metamask", ev.Page.Metamask},
		{"options", ""}, {"pop", ""}, {"ref", ev.Page.Ref}, {"url", ev.Page.URL}, {"zone", ev.ZoneID},
	}
	if ev.Page.Frame != nil {
		page = append(page, KV{"frame", *ev.Page.Frame})
	}
	doc := Obj{{"page", page}}
	if ev.Page.Account != "" {
		doc = append(doc, KV{"user", Obj{{"account", ev.Page.Account}}})
	}
	b, err := phpJSON(doc)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// View reports a view of a won slot to the bridge as the AdServer's view
// handler does, then records the case whatever the bridge said, except when
// the handler itself would fail: a 200 with an empty redirect_url (500) or a
// connection cut mid-answer. A bridge answer the AdServer only logs (status
// other than 200/204, a followed redirect) is returned as an error with the
// case recorded.
func (c *Client) View(ctx context.Context, w Win, ev Event) (EventResult, error) {
	res, err := c.event(ctx, w, ev, false)
	if res.Recorded {
		c.mu.Lock()
		if c.cases == nil {
			c.cases = map[string]Case{}
		}
		id := NormalizeCaseID(ev.CaseID)
		c.cases[id] = Case{CaseID: id, PublisherID: ev.PublisherID, ExtID: w.ExtID, ViewedAt: c.now()}
		c.mu.Unlock()
	}
	return res, err
}

// Click reports a click as the AdServer's click handler does. Without a
// recorded view of the same case it returns ErrNoCase and calls nothing.
func (c *Client) Click(ctx context.Context, w Win, ev Event) (EventResult, error) {
	c.mu.Lock()
	_, ok := c.cases[NormalizeCaseID(ev.CaseID)]
	c.mu.Unlock()
	if !ok {
		return EventResult{}, ErrNoCase
	}
	return c.event(ctx, w, ev, true)
}

// Cases returns the recorded views by normalised case id.
func (c *Client) Cases() map[string]Case {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Case, len(c.cases))
	for k, v := range c.cases {
		out[k] = v
	}
	return out
}

func (c *Client) event(ctx context.Context, w Win, ev Event, click bool) (EventResult, error) {
	kind, base := "view", w.Creative.ViewURL
	if click {
		kind, base = "click", w.Creative.ClickURL
	}
	u, err := EventURL(base, w.ExtID, c.AdServerAddr, ev, click)
	if err != nil {
		return EventResult{}, err
	}
	res := EventResult{URL: u}
	resp, err := c.call(ctx, http.MethodGet, u, nil, jsonHeaders(), laravelTimeout)
	if err != nil {
		// Guzzle's ConnectException (refused, timed out) is caught and logged;
		// anything else, such as a reset mid-answer, fails the handler.
		var ne net.Error
		var oe *net.OpError
		res.Recorded = errors.As(err, &ne) && ne.Timeout() || errors.As(err, &oe) && oe.Op == "dial"
		return res, fmt.Errorf("%s: %w", kind, err)
	}
	res.Status, res.Recorded = resp.status, true
	switch {
	case resp.redirected:
		return res, fmt.Errorf("%s: the bridge answered with a redirect, which Guzzle followed server-side: answer 200 {\"redirect_url\"} or 204 (§9)", kind)
	case resp.status == http.StatusNoContent:
		return res, nil
	case resp.status != http.StatusOK:
		return res, fmt.Errorf("%s: status %d: the AdServer logs an error and answers as for 204", kind, resp.status)
	}
	var doc map[string]any
	_ = json.Unmarshal(resp.body, &doc)
	if r, present := doc["redirect_url"]; present && r == "" && !click {
		res.Recorded = false
		return res, errors.New("view: redirect_url \"\" makes the AdServer's view handler fail with 500 and lose the case (§9)")
	}
	// A missing, empty (click) or non-string redirect_url is answered as a 204.
	res.RedirectURL, _ = doc["redirect_url"].(string)
	return res, nil
}

// ServeResult is what the browser got from a serve_url.
type ServeResult struct {
	Status      int
	ContentType string
	Size        int
	CORS        bool // Access-Control-Allow-Origin allows any origin (always true for data:)
	Body        []byte
}

// Serve fetches a won serve_url as the publisher's browser does: a
// cross-origin GET without cookies, following redirects, that must answer
// below 400 (§3.4). With RequireCORS a missing CORS header fails too. A
// data: URI is decoded, as the browser does, without any request.
func (c *Client) Serve(ctx context.Context, w Win, origin string) (ServeResult, error) {
	if strings.HasPrefix(w.ServeURL, "data:") {
		// The browser decodes a data: URI itself: no request, no CORS.
		typ, body, err := DecodeDataURI(w.ServeURL)
		if err != nil {
			return ServeResult{}, fmt.Errorf("serve: %w", err)
		}
		if len(body) == 0 {
			return ServeResult{Status: http.StatusOK, ContentType: typ, CORS: true}, errors.New("serve: an empty data: URI: the slot is blank")
		}
		return ServeResult{Status: http.StatusOK, ContentType: typ, Size: len(body), CORS: true, Body: body}, nil
	}
	hdr := http.Header{
		"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},
		"Accept":     {"*/*"},
		"Origin":     {origin},
	}
	resp, err := c.call(ctx, http.MethodGet, w.ServeURL, nil, hdr, laravelTimeout)
	if err != nil {
		return ServeResult{}, fmt.Errorf("serve: %w", err)
	}
	acao := resp.header.Get("Access-Control-Allow-Origin")
	res := ServeResult{Status: resp.status, ContentType: resp.header.Get("Content-Type"), Size: len(resp.body), CORS: acao == "*" || acao == origin, Body: resp.body}
	if resp.status >= 400 {
		return res, fmt.Errorf("serve: %s answered %d: the browser shows nothing and sends no view", w.ServeURL, resp.status)
	}
	if c.RequireCORS && !res.CORS {
		return res, fmt.Errorf("serve: %s has no Access-Control-Allow-Origin for %s: the browser's XHR fails", w.ServeURL, origin)
	}
	return res, nil
}
