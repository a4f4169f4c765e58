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
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// Two bridges on one database (each its own verifier and in-memory cache):
// a signed request accepted by one is a replay at the other.
func TestSignedRequestReplayedToAnotherInstanceIsRefused(t *testing.T) {
	url := testdb.URL(t)
	created := time.Date(2023, 3, 17, 16, 4, 33, 0, time.UTC)
	seed, _ := hex.DecodeString(strings.Repeat("11", 32))
	header := ads.SignAuthorization(seed, "0001-00000005-CBCA", []byte("a nonce of thirty-two bytes ...."), created)
	call := func(v *Verifier) int {
		h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/inventory", nil)
		req.Header.Set("Authorization", header)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	var instances []*Verifier
	for range 2 {
		st, err := store.Open(t.Context(), url, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		v, err := NewVerifier(config.AdServer{PublicKey: "D04AB232742BB4AB3A1368BD4615E4E6D0224AB71A016BAF8520A332C9778737"}, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		v.Now = func() time.Time { return created.Add(time.Second) }
		v.Shared = st
		instances = append(instances, v)
	}
	if code := call(instances[0]); code != 204 {
		t.Fatalf("first use at instance A: %d", code)
	}
	if code := call(instances[1]); code != 401 {
		t.Fatalf("replay at instance B: %d, want 401", code)
	}
	if code := call(instances[0]); code != 401 {
		t.Fatalf("replay at instance A: %d, want 401", code)
	}
}
