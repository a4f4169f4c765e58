package adserversim

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

// Timeouts the AdServer uses: GuzzleDemandClient for info, inventory and
// payment details, Laravel's Http defaults for bid, events and reports.
const (
	guzzleTimeout  = 15 * time.Second
	laravelTimeout = 30 * time.Second
	maxBody        = 64 << 20
)

// ErrNotRegistered is returned by calls that need a successful Register first.
var ErrNotRegistered = errors.New("adserversim: bridge not registered (run Register first)")

// Client is one simulated AdServer talking to one bridge. Set the exported
// fields before the first call; the methods are safe for concurrent use.
type Client struct {
	BaseURL      string // B, the dsp-bridge-url setting, used exactly as typed
	BridgeAddr   string // BRIDGE_ADDR, the dsp-bridge-account-address setting
	AdServerAddr string // ADSERVER_ADDR, the AdServer's own account
	Seed         []byte // 32-byte Ed25519 seed (adshares_secret) for signatures
	HTTP         *http.Client

	// Classifier is the required classifier; "" means DefaultClassifier.
	Classifier string
	// DetailsLimit is the payment-details page size; 0 means 5000.
	DetailsLimit int
	// RequireCORS makes Serve fail, as a browser XHR would, when the answer
	// lacks Access-Control-Allow-Origin.
	RequireCORS bool
	// Now and Rand replace the clock and the nonce source in tests; with
	// concurrent calls both must be safe for concurrent use.
	Now  func() time.Time
	Rand io.Reader

	mu        sync.Mutex
	info      *Info
	campaigns []Campaign
	creatives map[string]Creative
	cases     map[string]Case
	reports   map[string]*reportState
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// response is what one HTTP exchange gave.
type response struct {
	status     int
	header     http.Header
	body       []byte
	redirected bool // a 3xx was followed on the way
	latency    time.Duration
}

// call makes one request with the given headers (Guzzle's user agent unless
// set) and reads the whole answer, following redirects as Guzzle does.
func (c *Client) call(ctx context.Context, method, rawURL string, body []byte, hdr http.Header, timeout time.Duration) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	req.Header = hdr.Clone()
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "GuzzleHttp/7")
	}
	start := time.Now()
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, rawURL, err)
	}
	return &response{
		status:     resp.StatusCode,
		header:     resp.Header,
		body:       b,
		redirected: resp.Request.URL.String() != req.URL.String(),
		latency:    time.Since(start),
	}, nil
}

// jsonHeaders are what Laravel's Http facade sends on every call.
func jsonHeaders() http.Header {
	return http.Header{"Content-Type": {"application/json"}}
}

// signedHeaders are what GuzzleDemandClient sends: JSON, no cache and a
// fresh Authorization: ADS header (§5).
func (c *Client) signedHeaders() (http.Header, error) {
	if len(c.Seed) != 32 {
		return nil, errors.New("adserversim: Seed must be 32 bytes")
	}
	nonce := make([]byte, 32)
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, err
	}
	return http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"no-cache"},
		"Authorization": {ads.SignAuthorization(c.Seed, c.AdServerAddr, nonce, c.now())},
	}, nil
}

// Register fetches B/info.json as ads:fetch-hosts does and keeps the bridge
// as a network host when the answer passes every registrar rule (§6).
func (c *Client) Register(ctx context.Context) (Info, error) {
	hdr, err := c.signedHeaders()
	if err != nil {
		return Info{}, err
	}
	resp, err := c.call(ctx, http.MethodGet, c.BaseURL+"/info.json", nil, hdr, guzzleTimeout)
	if err != nil {
		return Info{}, fmt.Errorf("info.json: %w", err)
	}
	if resp.status != http.StatusOK {
		return Info{}, &ValidationError{Doc: "info.json", Rule: fmt.Sprintf("status %d is not 200: registration fails", resp.status)}
	}
	info, err := parseInfo(resp.body, c.BridgeAddr, c.BaseURL)
	if err != nil {
		return Info{}, err
	}
	c.mu.Lock()
	c.info = &info
	c.mu.Unlock()
	return info, nil
}

// Registered returns the stored registration, if any.
func (c *Client) Registered() (Info, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info == nil {
		return Info{}, false
	}
	return *c.info, true
}

// ImportInventory fetches inventoryUrl as is, validates it as
// ops:demand:inventory:import does and, when it passes, replaces every
// campaign of the bridge. On failure the previous inventory stays (§7).
func (c *Client) ImportInventory(ctx context.Context) ([]Campaign, error) {
	info, ok := c.Registered()
	if !ok {
		return nil, ErrNotRegistered
	}
	hdr, err := c.signedHeaders()
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, http.MethodGet, info.InventoryURL, nil, hdr, guzzleTimeout)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	if resp.status != http.StatusOK {
		return nil, &ValidationError{Doc: "inventory", Rule: fmt.Sprintf("status %d is not 200: counted as a failed connection", resp.status)}
	}
	classifier := c.Classifier
	if classifier == "" {
		classifier = DefaultClassifier
	}
	camps, err := parseInventory(resp.body, classifier)
	if err != nil {
		return nil, err
	}
	byID := map[string]Creative{}
	for _, cp := range camps {
		for _, cr := range cp.Creatives {
			byID[cr.ID] = cr
		}
	}
	c.mu.Lock()
	c.campaigns, c.creatives = camps, byID
	c.mu.Unlock()
	return camps, nil
}

// Creatives returns the imported creatives in inventory order.
func (c *Client) Creatives() []Creative {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Creative
	for _, cp := range c.campaigns {
		out = append(out, cp.Creatives...)
	}
	return out
}

func (c *Client) creative(id string) (Creative, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cr, ok := c.creatives[id]
	return cr, ok
}

// serverOrigin is scheme://host of serverUrl: E7 is resolved against it, so
// any path in serverUrl is dropped (§2).
func (c *Client) serverOrigin() (string, error) {
	info, ok := c.Registered()
	if !ok {
		return "", ErrNotRegistered
	}
	u, err := url.Parse(info.ServerURL)
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host, nil
}

// atom formats a time the way the AdServer writes dates (PHP "c").
func atom(t time.Time) string { return ads.FormatATOM(t) }
