package auction

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// FuzzRequestJSON: any BidRequest encoding/json can read is written by
// the appender exactly as encoding/json writes it, or both refuse, or the
// appender falls back; s goes into strings (any bytes, so invalid UTF-8
// too), x into floats and ext (when not empty) into a RawMessage as it is
// (invalid JSON too), which decoding alone would not reach.
func FuzzRequestJSON(f *testing.F) {
	for _, r := range fixtureRequests(f) {
		f.Add([]byte(r), "", 0.0, "")
	}
	f.Add([]byte(`{"id":"<&>","imp":[{"id":"1","bidfloor":1e-7,"ext":{ "a" : "\u2028" }}],"user":{"ext":{"k":[1, 2]}}}`), "\xff<\u2028", 1e21, "{ \"a\" : [1, 2] }\n")
	f.Add([]byte(`{"imp":null,"device":{"geo":{"lat":-0,"lon":1e-6}},"source":{"schain":{"nodes":[]}}}`), "\x00\"\\", math.Copysign(0, -1), "{\"a\":")
	f.Add([]byte(`{"imp":[{"video":{"mimes":[]}}],"regs":{"gpp_sid":[-1,127]},"app":{"id":"a"}}`), "\xe2\x80", 0.000001, "\"\\u0022 <\xff\"")
	f.Add([]byte(`{"site":{"publisher":{}},"user":{"geo":{}},"ext":"x"}`), "日本", 123456789.125, "{} x")
	f.Add([]byte(`{}`), "", math.Inf(1), "  1e5 ")
	f.Fuzz(func(t *testing.T, data []byte, s string, x float64, ext string) {
		var r openrtb2.BidRequest
		if json.Unmarshal(data, &r) != nil {
			t.Skip()
		}
		r.WLang = append(r.WLang, s)
		if r.Device == nil {
			r.Device = &openrtb2.Device{}
		}
		r.Device.PxRatio = x
		if len(r.Imp) > 0 {
			r.Imp[0].TagID += s
			r.Imp[0].BidFloor = x
		}
		if ext != "" {
			if r.Regs == nil {
				r.Regs = &openrtb2.Regs{}
			}
			r.Regs.Ext = json.RawMessage(ext)
		}
		if r.User != nil && r.User.Geo != nil {
			r.User.Geo.Lat = &x
		}
		want, werr := json.Marshal(&r)
		got, ok := appendBidRequest(nil, &r)
		switch {
		case werr != nil && ok:
			t.Fatalf("encoding/json fails (%v), the appender wrote %s", werr, got)
		case ok && string(got) != string(want):
			t.Fatalf("appender:\n got  %s\n want %s", got, want)
		}
		full, err := appendRequestJSON(nil, &r)
		if (err == nil) != (werr == nil) || (err == nil && string(full) != string(want)+"\n") {
			t.Fatalf("appendRequestJSON = %q, %v; Marshal = %q, %v", full, err, want, werr)
		}
	})
}
