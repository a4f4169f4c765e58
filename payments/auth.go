package payments

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/httpapi"
)

// Verifier checks the AdServer's signatures (DECISIONS §4): the
// `Authorization: ADS ...` header on /info.json, /inventory and
// /payment-details, and the path signature on /payment-details. It is off
// (a nil *Verifier, which lets everything through) unless
// adserver.public_key is set. One Verifier must guard every route, so that a
// nonce used on one endpoint cannot be replayed on another; with Shared set,
// a nonce used at any bridge sharing the database is refused at every one.
type Verifier struct {
	pub     ed25519.PublicKey
	account string // adserver.address; when set, the only account accepted
	skew    time.Duration
	nonces  *ads.NonceCache
	log     *slog.Logger

	// Shared, if set, remembers nonces in the database (auth_nonces) for
	// every instance. If it cannot be asked, the in-memory cache alone
	// decides (a replay then reaches at most the other instances, during
	// the outage only, within the signature's 300 s).
	Shared NonceStore

	// Now is the clock (tests inject one).
	Now func() time.Time
}

// NewVerifier returns the verifier for cfg, or nil (verification off) when
// adserver.public_key is empty.
func NewVerifier(cfg config.AdServer, log *slog.Logger) (*Verifier, error) {
	if cfg.PublicKey == "" {
		return nil, nil
	}
	pub, err := ads.ParsePublicKey(cfg.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("adserver.public_key: %w", err)
	}
	return &Verifier{pub: pub, account: cfg.Address, skew: cfg.ClockSkew, nonces: ads.NewNonceCache(0, cfg.ClockSkew), log: log, Now: time.Now}, nil
}

// NonceStore remembers signature nonces across instances (store.Store).
type NonceStore interface {
	UseNonce(ctx context.Context, nonce []byte, keep time.Duration) (bool, error)
}

// nonceKeep is how long the database remembers a nonce: twice the
// signature's lifetime, so that a clock skew of up to ads.MaxSignatureAge
// between instances still finds it.
const nonceKeep = 2 * ads.MaxSignatureAge

// Enabled reports whether signatures are checked.
func (v *Verifier) Enabled() bool { return v != nil }

type accountKey struct{}

// Account returns the AdServer account of a verified request, or "".
func Account(ctx context.Context) string {
	a, _ := ctx.Value(accountKey{}).(string)
	return a
}

// Middleware answers 401 JSON to a request without a valid, fresh,
// never-seen Authorization header. Attach it to /info.json and /inventory
// with r.With(v.Middleware).Get(...); a nil Verifier passes every request.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	if v == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := ads.VerifyAuthorization(v.pub, r.Header.Get("Authorization"), v.Now(), v.skew, v.nonces)
		if err == nil && v.account != "" && a.Account != v.account {
			err = fmt.Errorf("account %q is not the configured adserver.address", a.Account)
		}
		if err == nil && v.Shared != nil {
			fresh, serr := v.Shared.UseNonce(r.Context(), a.Nonce, nonceKeep)
			switch {
			case serr != nil:
				v.log.Warn("payments: shared nonce check unavailable, the in-memory one decided", "error", serr.Error())
			case !fresh:
				err = fmt.Errorf("authorization nonce was already used (at this or another bridge)")
			}
		}
		if err != nil {
			v.reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accountKey{}, a.Account)))
	})
}

// verifyPath checks the /payment-details path signature; the address in the
// path must be the account that signed the header.
func (v *Verifier) verifyPath(r *http.Request, reportID, address, date, signature string) error {
	if v == nil {
		return nil
	}
	if acc := Account(r.Context()); acc != "" && acc != address {
		return fmt.Errorf("path address %q is not the signing account %q", address, acc)
	}
	return ads.VerifyPaymentDetailsPath(v.pub, reportID, address, date, signature)
}

func (v *Verifier) reject(w http.ResponseWriter, r *http.Request, err error) {
	v.log.Warn("payments: AdServer signature rejected", "path", r.URL.Path, "reason", err.Error())
	w.Header().Set("WWW-Authenticate", "ADS")
	httpapi.WriteError(w, httpapi.Errorf(httpapi.Unauthorized, "unauthorized: %v", err))
}
