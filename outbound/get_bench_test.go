package outbound_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/adshares/dsp-bridge/outbound"
)

// BenchmarkGetNotice is one burl as the outbox sends it: a GET with a
// query to a loopback DSP answering 204, on a kept-alive connection. The
// figure of interest is CPU (and allocations) per notice, client and
// server together, run with -benchmem.
func BenchmarkGetNotice(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := outbound.New(outbound.Options{Allow: prefixes("127.0.0.0/8"), MaxConnsPerHost: 8, MaxIdleConnsPerHost: 4})
	u := fmt.Sprintf("%s/burl?auction=%s&price=1.234567&imp=1&bidder=dsp-1", srv.URL, "8f14e45fceea167a5a36dedd4bea2543")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(ctx, u)
		if err != nil || resp.Status != http.StatusNoContent {
			b.Fatalf("%+v, %v", resp, err)
		}
	}
}
