package auction

import (
	"crypto/rand"
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
