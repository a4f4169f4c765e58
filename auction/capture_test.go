package auction

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/dspsim"
)

// With log.payloads the kept request body is the request as JSON, with and
// without gzip, and a second call (whose buffer is sized from the first)
// sends and keeps its own request whole.
func TestCapturedRequestIsTheRequest(t *testing.T) {
	for _, gz := range []bool{false, true} {
		s := sim(t, dspsim.Options{Price: "1.00", Gzip: gz})
		d := testDSP("a", s.Endpoint())
		d.Gzip = gz
		c := newDSPClient(d, 0, 1_000_000_000, nil)
		c.capture = true
		defer c.close()
		for _, id := range []string{"first", "second-with-a-longer-id-than-the-first-one"} {
			req := &openrtb2.BidRequest{ID: id, Imp: []openrtb2.Imp{{ID: "0", Banner: &openrtb2.Banner{Format: []openrtb2.Format{{W: 300, H: 250}}}}}}
			a := c.call(context.Background(), req)
			want, _ := json.Marshal(req)
			if string(a.reqBody) != string(want) {
				t.Errorf("gzip %v: kept %s, want %s", gz, a.reqBody, want)
			}
			if a.err != nil || a.response == nil || string(a.response.ID) != id {
				t.Errorf("gzip %v: answer %+v (%v): the DSP did not get the request %q", gz, a.response, a.err, id)
			}
		}
	}
}
