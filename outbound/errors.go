package outbound

import (
	"errors"
	"fmt"
	"net/netip"
)

// Kind classifies a refusal. The values are a small fixed set, usable as a
// metric label or a rejection reason.
type Kind string

// Refusal kinds.
const (
	KindURL           Kind = "url"           // malformed, too long, credentials, bad port
	KindScheme        Kind = "scheme"        // not http or https
	KindHost          Kind = "host"          // missing or not a valid host name
	KindRedirects     Kind = "redirects"     // more redirects than allowed
	KindLoopback      Kind = "loopback"      // 127/8, ::1, localhost
	KindPrivate       Kind = "private"       // RFC 1918, fc00::/7
	KindShared        Kind = "shared"        // 100.64/10 (carrier-grade NAT)
	KindLinkLocal     Kind = "link_local"    // 169.254/16 (cloud metadata), fe80::/10
	KindMulticast     Kind = "multicast"     // 224/4, ff00::/8
	KindBroadcast     Kind = "broadcast"     // 255.255.255.255
	KindUnspecified   Kind = "unspecified"   // 0.0.0.0, ::
	KindDocumentation Kind = "documentation" // TEST-NETs, 2001:db8::/32, 3fff::/20
	KindReserved      Kind = "reserved"      // every other special-purpose range
)

// RefusedError says that the policy refused a URL or an address, and why.
// A refusal is final: the same URL will be refused again, so it must never
// be retried. Anything else a Client returns is a network or HTTP error.
type RefusedError struct {
	Kind Kind
	// Addr is the refused address, when an address was refused.
	Addr netip.Addr
	// Reason is the human explanation, e.g. "127.0.0.1 is a loopback address".
	Reason string
	// Redirect is 0 for the URL asked for, n for the n-th redirect.
	Redirect int

	what string // the refused range, for an address carrying another
}

func (e *RefusedError) Error() string {
	if e.Redirect > 0 {
		return fmt.Sprintf("refused: %s (at redirect %d)", e.Reason, e.Redirect)
	}
	return "refused: " + e.Reason
}

// AsRefused returns the refusal in err's chain, if there is one.
func AsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// IsRefused reports whether err is (or wraps) a policy refusal.
func IsRefused(err error) bool {
	_, ok := AsRefused(err)
	return ok
}

func refuse(kind Kind, format string, args ...any) *RefusedError {
	return &RefusedError{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}
