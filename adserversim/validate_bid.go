package adserversim

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// BidEntry is one accepted entry of a /bid answer.
type BidEntry struct {
	RequestID string
	ExtID     string
	ServeURL  string
}

var extIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidateBidResponse checks a /bid answer as the AdServer does (§8.3, §8.4):
// status exactly 200, a JSON array whose every element is an object with
// string ext_id, request_id and serve_url, each request_id one of those sent.
// A single bad entry rejects the whole answer. It also holds the bridge to the
// contract's musts: at most one entry per request_id, a URL-safe non-empty
// ext_id, and a serve_url the browser can fetch: an absolute http(s) URL, or
// a data: URI of the creative's bytes (the AdServer does not validate
// serve_url; its page fetches data: URIs like any other, BROWSER.md).
func ValidateBidResponse(status int, body []byte, sentRequestIDs []string) error {
	_, err := parseBidResponse(status, body, sentRequestIDs)
	return err
}

func parseBidResponse(status int, body []byte, sent []string) ([]BidEntry, error) {
	c := &checker{doc: "bid"}
	if status != http.StatusOK {
		c.fail("", "status %d is not 200: every bridge slot is emptied", status)
		return nil, c.result()
	}
	v, err := decodeJSON(body)
	if err != nil {
		c.fail("", "%v: every bridge slot is emptied", err)
		return nil, c.result()
	}
	list, ok := v.([]any)
	if !ok {
		c.fail("", "must be a JSON array of bids, got %s", jsonType(v))
		return nil, c.result()
	}
	var out []BidEntry
	seen := map[string]bool{}
	for i, item := range list {
		path := "[" + itoa(i) + "]"
		m, ok := item.(map[string]any)
		if !ok {
			c.fail(path, "must be an object, got %s: the whole answer is rejected", jsonType(item))
			break
		}
		for _, k := range []string{"request_id", "ext_id", "serve_url"} {
			if _, ok := m[k].(string); !ok {
				c.fail(path+"."+k, "must be a string, got %s: the whole answer is rejected", show(m[k]))
			}
		}
		if !c.ok() {
			break
		}
		e := BidEntry{RequestID: m["request_id"].(string), ExtID: m["ext_id"].(string), ServeURL: m["serve_url"].(string)}
		switch u, err := url.Parse(e.ServeURL); {
		case !slices.Contains(sent, e.RequestID):
			c.fail(path+".request_id", "%q was not sent in this call: the whole answer is rejected", e.RequestID)
		case seen[e.RequestID]:
			c.fail(path+".request_id", "%q answered twice: the view and click URLs would carry a duplicated extid", e.RequestID)
		case !extIDRe.MatchString(e.ExtID):
			c.fail(path+".ext_id", "%q must be non-empty URL-safe characters [A-Za-z0-9_-] (§8.3)", e.ExtID)
		case strings.HasPrefix(e.ServeURL, "data:"):
			if _, _, err := DecodeDataURI(e.ServeURL); err != nil {
				c.fail(path+".serve_url", "a data: URI the browser cannot fetch: %v", err)
			}
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			c.fail(path+".serve_url", "%q must be an absolute http(s) URL or a data: URI: the browser fetches it", e.ServeURL)
		}
		seen[e.RequestID] = true
		out = append(out, e)
	}
	if !c.ok() {
		return nil, c.result()
	}
	return out, nil
}
