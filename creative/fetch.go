package creative

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
)

// Fetcher sends the resolver's GET requests. An *http.Client satisfies it;
// the bridge passes its one strict outbound client (http(s) only, redirect
// and size caps, address checks), since every URL here comes from a DSP.
type Fetcher interface {
	Do(req *http.Request) (*http.Response, error)
}

// Accept headers of the resolver's fetches.
const (
	acceptImage = "image/png,image/jpeg,image/gif,image/webp;q=0.9,*/*;q=0.1"
	acceptVideo = "video/mp4,video/webm;q=0.9,*/*;q=0.1"
	acceptVAST  = "application/xml,text/xml;q=0.9,*/*;q=0.1"
	userAgent   = "dsp-bridge creative fetch"
)

// fetch GETs rawURL and returns its body if the answer is a 200 of at most
// limit bytes, and whether every hop (redirects included) answered
// Access-Control-Allow-Origin: *, so that a browser could fetch rawURL from
// any page itself. Failures are typed: a context that ends first is
// creative_timeout, a larger body creative_too_large, anything else
// creative_fetch_failed.
func fetch(ctx context.Context, f Fetcher, rawURL, accept string, limit int64) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, false, &Error{Reason: ReasonFetchFailed, Detail: "bad URL " + clip(rawURL), Err: err}
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.Do(req)
	if err != nil {
		return nil, false, fetchError(ctx, rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, refuse(ReasonFetchFailed, "%s answered %d", clip(rawURL), resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, false, refuse(ReasonTooLarge, "%s is %d bytes (max %d)", clip(rawURL), resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, false, fetchError(ctx, rawURL, err)
	}
	if int64(len(b)) > limit {
		return nil, false, refuse(ReasonTooLarge, "%s is more than %d bytes", clip(rawURL), limit)
	}
	if len(b) == 0 {
		return nil, false, refuse(ReasonFetchFailed, "%s answered an empty body", clip(rawURL))
	}
	return b, corsEveryHop(resp), nil
}

// corsEveryHop reports whether the response and every redirect before it
// carried Access-Control-Allow-Origin: *. After a cross-origin redirect the
// browser's Origin is "null", so only "*" works on every hop (BROWSER.md).
func corsEveryHop(resp *http.Response) bool {
	for r := resp; r != nil; {
		if r.Header.Get("Access-Control-Allow-Origin") != "*" {
			return false
		}
		if r.Request == nil {
			break
		}
		r = r.Request.Response // the redirect that led to this request, if any
	}
	return true
}

func fetchError(ctx context.Context, rawURL string, err error) error {
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Reason: ReasonTimeout, Detail: "fetching " + clip(rawURL), Err: err}
	}
	return &Error{Reason: ReasonFetchFailed, Detail: "fetching " + clip(rawURL), Err: err}
}
