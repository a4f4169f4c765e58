package ads

import (
	"crypto/ed25519"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// atomLayout is PHP's DATE_ATOM, the form of `created` and of the payment
// details date (package config imports ads, so the layout is repeated here).
const atomLayout = "2006-01-02T15:04:05-07:00"

// MaxSignatureAge is how old an Authorization header's `created` may be
// (ADSERVER-BRIDGE §5), give or take the clock skew allowed.
const MaxSignatureAge = 300 * time.Second

// Authorization is a parsed `Authorization: ADS ...` header.
type Authorization struct {
	Account   string
	Nonce     []byte    // raw bytes (decoded from base64)
	Created   time.Time // from the ATOM `created`
	Signature []byte    // 64-byte Ed25519 signature
}

// SignAuthorization builds the header value the AdServer's GuzzleDemandClient
// sends: the Ed25519 signature (key from the 32-byte seed) of the raw nonce
// followed by the decimal unix seconds of created.
func SignAuthorization(seed []byte, account string, nonce []byte, created time.Time) string {
	key := ed25519.NewKeyFromSeed(seed)
	sig := ed25519.Sign(key, authMessage(nonce, created))
	return fmt.Sprintf(`ADS account="%s", nonce="%s", created="%s", signature="%s"`,
		account, base64.StdEncoding.EncodeToString(nonce), FormatATOM(created), hex.EncodeToString(sig))
}

func authMessage(nonce []byte, created time.Time) []byte {
	return append(append([]byte{}, nonce...), strconv.FormatInt(created.Unix(), 10)...)
}

// ParseAuthorization parses an `ADS account="...", nonce="...", created="...",
// signature="..."` header value. Parameter order does not matter; all four
// are required, each once.
func ParseAuthorization(header string) (*Authorization, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(header), "ADS ")
	if !ok {
		return nil, errors.New("authorization scheme is not ADS")
	}
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		name, after, ok := strings.Cut(rest, "=")
		name = strings.TrimSpace(name)
		if !ok || !strings.HasPrefix(after, `"`) {
			return nil, errors.New("authorization parameters must be name=\"value\"")
		}
		value, tail, ok := strings.Cut(after[1:], `"`)
		if !ok {
			return nil, errors.New("authorization parameter has no closing quote")
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("authorization parameter %q repeated", name)
		}
		params[name] = value
		rest = strings.TrimSpace(tail)
		if rest != "" {
			if rest, ok = strings.CutPrefix(rest, ","); !ok {
				return nil, errors.New("authorization parameters must be separated by commas")
			}
			rest = strings.TrimSpace(rest)
		}
	}
	for _, k := range []string{"account", "nonce", "created", "signature"} {
		if params[k] == "" {
			return nil, fmt.Errorf("authorization parameter %q missing", k)
		}
	}
	nonce, err := base64.StdEncoding.DecodeString(params["nonce"])
	if err != nil || len(nonce) == 0 {
		return nil, errors.New("authorization nonce is not base64")
	}
	created, err := time.Parse(atomLayout, params["created"])
	if err != nil {
		return nil, errors.New("authorization created is not an ATOM timestamp")
	}
	sig, err := hex.DecodeString(params["signature"])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, errors.New("authorization signature is not 128 hex characters")
	}
	return &Authorization{Account: params["account"], Nonce: nonce, Created: created, Signature: sig}, nil
}

// VerifyAuthorization checks a header against the AdServer's public key:
// the signature, created at most skew in the future and at most
// MaxSignatureAge + skew old (the AdServer's clock and ours are two
// clocks), and the nonce not seen before (it is then remembered). A nil
// nonce cache skips the replay check.
func VerifyAuthorization(pub ed25519.PublicKey, header string, now time.Time, skew time.Duration, nonces *NonceCache) (*Authorization, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("no valid public key configured")
	}
	a, err := ParseAuthorization(header)
	if err != nil {
		return nil, err
	}
	if a.Created.After(now.Add(skew)) {
		return nil, fmt.Errorf("authorization created is in the future (more than the %s clock skew allowed)", skew)
	}
	if now.Sub(a.Created) > MaxSignatureAge+skew {
		return nil, errors.New("authorization created is too old")
	}
	if !ed25519.Verify(pub, authMessage(a.Nonce, a.Created), a.Signature) {
		return nil, errors.New("authorization signature does not verify")
	}
	// Only a verified request may enter the cache, so nobody without the key
	// can fill it or burn the AdServer's nonces.
	if nonces != nil && !nonces.Add(a.Nonce, now) {
		return nil, errors.New("authorization nonce was already used")
	}
	return a, nil
}

// paymentDetailsMessage is sha1_hex(reportId + unix(date) + address), the
// ASCII string the AdServer signs for the payment details path.
func paymentDetailsMessage(reportID string, date time.Time, adserverAddr string) []byte {
	sum := sha1.Sum([]byte(reportID + strconv.FormatInt(date.Unix(), 10) + adserverAddr))
	return []byte(hex.EncodeToString(sum[:]))
}

// PaymentDetailsSignature is the 128-hex signature the AdServer puts in the
// /payment-details path (ADSERVER-BRIDGE §5).
func PaymentDetailsSignature(seed []byte, reportID string, date time.Time, adserverAddr string) string {
	key := ed25519.NewKeyFromSeed(seed)
	return hex.EncodeToString(ed25519.Sign(key, paymentDetailsMessage(reportID, date, adserverAddr)))
}

// VerifyPaymentDetailsPath checks the signature segment of a /payment-details
// path. date is the segment exactly as received (ATOM, literal "+").
func VerifyPaymentDetailsPath(pub ed25519.PublicKey, reportID, adserverAddr, date, signature string) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("no valid public key configured")
	}
	t, err := time.Parse(atomLayout, date)
	if err != nil {
		return errors.New("payment details date is not an ATOM timestamp")
	}
	sig, err := hex.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("payment details signature is not 128 hex characters")
	}
	if !ed25519.Verify(pub, paymentDetailsMessage(reportID, t, adserverAddr), sig) {
		return errors.New("payment details signature does not verify")
	}
	return nil
}

// ParsePublicKey decodes a hex Ed25519 public key (either case).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("public key must be 64 hex characters (Ed25519)")
	}
	return ed25519.PublicKey(b), nil
}

// DefaultNonceCacheSize bounds the replay cache. Only correctly signed
// requests enter it, so only the AdServer itself could fill it.
const DefaultNonceCacheSize = 100_000

// NonceCache remembers nonces as long as a header carrying them could still
// be accepted, in memory and bounded: when full, the oldest entry goes
// first. Safe for concurrent use.
type NonceCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	seen  map[string]time.Time // nonce → expiry
	order []nonceEntry         // insertion order (= expiry order)
	head  int                  // index of the oldest live entry in order
}

type nonceEntry struct {
	nonce  string
	expiry time.Time
}

// NewNonceCache makes a cache holding at most size nonces (DefaultNonceCacheSize
// if size <= 0) for headers verified with the given clock skew. A header seen
// now may carry a created up to skew ahead, and is accepted until
// MaxSignatureAge + skew after that: its nonce is kept for MaxSignatureAge +
// 2 × skew.
func NewNonceCache(size int, skew time.Duration) *NonceCache {
	if size <= 0 {
		size = DefaultNonceCacheSize
	}
	return &NonceCache{max: size, ttl: MaxSignatureAge + 2*max(skew, 0), seen: map[string]time.Time{}}
}

// Add records nonce at now and reports whether it was new (not seen within
// the cache's time to live).
func (c *NonceCache) Add(nonce []byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	key := string(nonce)
	if exp, ok := c.seen[key]; ok && now.Before(exp) {
		return false
	}
	for len(c.seen) >= c.max && c.head < len(c.order) {
		c.dropOldest()
	}
	exp := now.Add(c.ttl)
	c.seen[key] = exp
	c.order = append(c.order, nonceEntry{key, exp})
	return true
}

// Len is the number of remembered nonces.
func (c *NonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *NonceCache) expire(now time.Time) {
	for c.head < len(c.order) && !now.Before(c.order[c.head].expiry) {
		c.dropOldest()
	}
	// Compact once the dead prefix dominates, so the slice stays bounded.
	if c.head > 1024 && c.head*2 > len(c.order) {
		c.order = append([]nonceEntry(nil), c.order[c.head:]...)
		c.head = 0
	}
}

func (c *NonceCache) dropOldest() {
	if c.head >= len(c.order) {
		return
	}
	e := c.order[c.head]
	c.order[c.head] = nonceEntry{}
	c.head++
	// The map entry may belong to a newer insertion of the same nonce.
	if exp, ok := c.seen[e.nonce]; ok && exp.Equal(e.expiry) {
		delete(c.seen, e.nonce)
	}
}
