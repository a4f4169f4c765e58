package store

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// ext_ids made by NewExtID: "w", the win's unix second in 6 base64url
// characters (36 bits, good until the year 4147), and 16 crypto-random bytes
// in 22. 29 characters of [A-Za-z0-9_-]: URL-safe, unguessable (128 random
// bits: a view cannot be forged for a win someone else made) and unique
// without coordination. The time lets a view find its win's partition
// without asking every partition; it is a hint, never trusted alone (a win
// not found near it is looked up everywhere).
const (
	extIDMark    = 'w'
	extIDTimeLen = 6
	extIDLen     = 1 + extIDTimeLen + 22
)

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// NewExtID returns a new ext_id for a win made at now.
func NewExtID(now time.Time) string {
	var out [extIDLen]byte
	out[0] = extIDMark
	sec := uint64(max(now.Unix(), 0))
	for i := extIDTimeLen; i >= 1; i-- {
		out[i] = b64url[sec&63]
		sec >>= 6
	}
	var r [16]byte
	rand.Read(r[:]) // never fails (crypto/rand panics on an unusable source)
	base64.RawURLEncoding.Encode(out[1+extIDTimeLen:], r[:])
	return string(out[:])
}

// ExtIDTime returns the time an ext_id made by NewExtID carries, to the
// second; ok is false for any other ext_id (the 22-character ones of
// earlier versions, test ids).
func ExtIDTime(extID string) (t time.Time, ok bool) {
	if len(extID) != extIDLen || extID[0] != extIDMark {
		return time.Time{}, false
	}
	var sec int64
	for i := 1; i <= extIDTimeLen; i++ {
		v := b64index(extID[i])
		if v < 0 {
			return time.Time{}, false
		}
		sec = sec<<6 | int64(v)
	}
	for i := 1 + extIDTimeLen; i < extIDLen; i++ {
		if b64index(extID[i]) < 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(sec, 0).UTC(), true
}

func b64index(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
