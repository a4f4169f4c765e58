package auction

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// NewExtID returns an ext_id: 16 crypto-random bytes as 22 characters of
// unpadded base64url. URL-safe, unguessable (a view cannot be forged for a
// win someone else made) and, at 128 bits, unique without coordination.
func NewExtID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on an unusable source)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newAuctionID returns a BidRequest.id: 32 hex characters of randomness.
func newAuctionID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
