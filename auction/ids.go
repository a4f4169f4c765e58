package auction

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// newExtID returns the ext_id of a win made now: store.NewExtID carries
// the win's time, so a view finds its partition without scanning them all,
// and 128 random bits, so it is unguessable and unique without coordination.
func newExtID() string { return store.NewExtID(time.Now()) }

// newAuctionID returns a BidRequest.id: 32 hex characters of randomness.
func newAuctionID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newServeToken returns the unguessable token of a public serve_url
// ({public_url}/c/{token}): 16 crypto-random bytes as 22 characters of
// unpadded base64url. The public listener finds the win by it (and by the
// win's age), so knowing one ext_id or token reveals no other creative.
func newServeToken() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
