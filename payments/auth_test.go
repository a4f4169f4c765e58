package payments

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/config"
)

// adserver.clock_skew: a header whose created is a little ahead of our
// clock (the AdServer's runs fast) is accepted, one beyond the skew is not.
func TestVerifierAllowsClockSkew(t *testing.T) {
	v, err := NewVerifier(config.AdServer{PublicKey: "D04AB232742BB4AB3A1368BD4615E4E6D0224AB71A016BAF8520A332C9778737",
		ClockSkew: 30 * time.Second}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	v.Now = func() time.Time { return now }
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	seed, _ := hex.DecodeString(strings.Repeat("11", 32))
	for i, tc := range []struct {
		created time.Time
		status  int
	}{
		{now.Add(20 * time.Second), http.StatusNoContent},
		{now.Add(-(ads.MaxSignatureAge + 20*time.Second)), http.StatusNoContent},
		{now.Add(40 * time.Second), http.StatusUnauthorized},
		{now.Add(-(ads.MaxSignatureAge + 40*time.Second)), http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", "/inventory", nil)
		req.Header.Set("Authorization", ads.SignAuthorization(seed, "0001-00000005-CBCA", []byte{byte(i + 1), 2, 3}, tc.created))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("created %s (now %s): status %d, want %d: %s", tc.created, now, rec.Code, tc.status, rec.Body)
		}
	}
}
