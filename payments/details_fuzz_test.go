package payments

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/adshares/dsp-bridge/ads"
)

// FuzzPaymentDetailsPath: whatever path and query the AdServer (or anyone)
// sends to /payment-details, reading it never panics; accepted paging is
// in range; the date segment keeps a literal "+"; and a path the AdServer
// signs for the segments read verifies.
func FuzzPaymentDetailsPath(f *testing.F) {
	seed, _ := hex.DecodeString(strings.Repeat("11", 32))
	pub, _ := ads.ParsePublicKey("D04AB232742BB4AB3A1368BD4615E4E6D0224AB71A016BAF8520A332C9778737")
	date := time.Date(2023, 3, 17, 16, 0, 0, 0, time.UTC)
	sig := ads.PaymentDetailsSignature(seed, "1678953600", date, "0001-00000005-CBCA")
	f.Add("1678953600"+detailsTail, "limit=5000&offset=0") // the §5 vector
	f.Add("1678953600/0001-00000005-CBCA/2023-03-17T16:00:00+00:00/"+sig, "limit=5000&offset=0")
	f.Add("1678953600/0001-00000005-CBCA/2023-03-17T16%3A00%3A00%2B00%3A00/"+sig, "limit=10&offset=10000000")
	f.Add("1/0001-00000005-CBCA/2023-03-17T16:00:00+02:00/00", "limit=0")
	f.Add("abc/x/y/z", "limit=-1&offset=1e3&limit=2")
	f.Add("1678953600/0001-00000005-CBCA/2023-03-17T16:00:00+00:00/"+sig+"/extra", "offset=%zz")
	r := chi.NewRouter()
	type seen struct {
		reportID, address, date, signature string
		limit, offset                      int64
		pagingOK                           bool
	}
	var got *seen
	r.Get("/payment-details/{reportId}/{address}/{date}/{signature}", func(w http.ResponseWriter, req *http.Request) {
		s := &seen{}
		s.reportID, s.address, s.date, s.signature = detailsPath(req)
		limit, offset, err := detailsPaging(req.URL.Query())
		s.limit, s.offset, s.pagingOK = limit, offset, err == nil
		got = s
	})
	f.Fuzz(func(t *testing.T, path, query string) {
		u, err := url.ParseRequestURI("/payment-details/" + path + "?" + query)
		if err != nil {
			return // net/http answers 400 before any handler
		}
		got = nil
		r.ServeHTTP(httptest.NewRecorder(), &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}})
		if got == nil {
			return // not this route: 404
		}
		if got.pagingOK && (got.limit < 1 || got.limit > MaxLimit || got.offset < 0) {
			t.Fatalf("paging %d/%d accepted from %q", got.limit, got.offset, query)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) > 4 && strings.Contains(segs[4], "+") && !strings.Contains(got.date, "+") {
			t.Fatalf("date segment %q read as %q: the + was lost", segs[4], got.date)
		}
		// Never a panic, whatever the segments; the AdServer's own
		// signature of what was read verifies.
		ads.VerifyPaymentDetailsPath(pub, got.reportID, got.address, got.date, got.signature)
		if d, err := time.Parse("2006-01-02T15:04:05-07:00", got.date); err == nil {
			own := ads.PaymentDetailsSignature(seed, got.reportID, d, got.address)
			if err := ads.VerifyPaymentDetailsPath(pub, got.reportID, got.address, got.date, own); err != nil {
				t.Fatalf("signed path for %+v does not verify: %v", got, err)
			}
		}
	})
}
