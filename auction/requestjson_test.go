package auction

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// encoderJSON is what call sent before appendBidRequest: Encoder.Encode.
func encoderJSON(r *openrtb2.BidRequest) ([]byte, error) {
	var buf bytes.Buffer
	err := json.NewEncoder(&buf).Encode(r)
	return buf.Bytes(), err
}

// Every request the auction fixtures send (both dialects, privacy,
// blocking, schain, video, ...) is written by the appender, byte for byte
// what encoding/json's Encoder writes, with no fallback.
func TestRequestJSONFixtures(t *testing.T) {
	var mu sync.Mutex
	var sent int
	var diffs []string
	hook := func(r *openrtb2.BidRequest, got []byte) {
		want, err := encoderJSON(r)
		mu.Lock()
		defer mu.Unlock()
		sent++
		if err != nil || !bytes.Equal(got, want) {
			diffs = append(diffs, "got  "+string(got)+"want "+string(want))
		}
	}
	requestEncoded.Store(&hook)
	defer requestEncoded.Store(nil)
	before := requestFallbacks.Load()
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runFixture(t, file) })
	}
	mu.Lock()
	defer mu.Unlock()
	if sent < len(files) {
		t.Errorf("%d requests encoded for %d fixtures", sent, len(files))
	}
	for _, d := range diffs {
		t.Errorf("request bytes differ from encoding/json:\n%s", d)
	}
	if n := requestFallbacks.Load() - before; n != 0 {
		t.Errorf("%d of %d fixture requests fell back to encoding/json", n, sent)
	}
}

// checkRequestJSON compares the appender with encoding/json on r: the
// same bytes, or both refuse (the appender by falling back, after which
// appendRequestJSON reports encoding/json's error). It reports whether
// the appender covered r.
func checkRequestJSON(t *testing.T, r *openrtb2.BidRequest) (covered bool) {
	t.Helper()
	want, werr := json.Marshal(r)
	got, ok := appendBidRequest([]byte("prefix"), r)
	switch {
	case werr != nil && ok:
		t.Errorf("encoding/json fails (%v) but the appender wrote %s", werr, got)
	case ok && string(got) != "prefix"+string(want):
		t.Errorf("appender:\n got  %s\n want prefix%s", got, want)
	case !ok && string(got) != "prefix":
		t.Errorf("a fallback changed dst: %q", got)
	}
	enc, eerr := encoderJSON(r)
	full, ferr := appendRequestJSON(nil, r)
	if (eerr == nil) != (ferr == nil) || !bytes.Equal(enc, full) {
		t.Errorf("appendRequestJSON = %q, %v; Encoder.Encode = %q, %v", full, ferr, enc, eerr)
	}
	return ok
}

func TestRequestJSONTrickyValues(t *testing.T) {
	negZero := math.Copysign(0, -1)
	f := func(v float64) *float64 { return &v }
	i64 := func(v int64) *int64 { return &v }
	i8 := func(v int8) *int8 { return &v }
	floats := []float64{1e21, 1e20, 999999999999999999999, 1e-7, 1e-6, 0.000001, 0.0000001, 0.00000123,
		negZero, -1e-7, -1e21, 5e-324, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2, 1.5, 0.87,
		123456789.123, 1e100, 1e-100, 100, 1e6, 2.5e-5, 12345678901234567890}
	strs := []string{"", "plain", "zażółć gęślą jaźń", "日本語", "😀 \U0001F600", "<script>alert(1)</script>&amp;",
		"\u2028\u2029", "a\u2028b", "\x00\x01\x1f\x7f", "\xff\xfe", "\xe2\x80", "ok\xe2\x80\xa8\xc3", "\xed\xa0\x80",
		"\"\\/", "\b\f\n\r\t", "\u00e9\u0301", strings.Repeat("x<", 40)}
	raws := []string{`{"a":1}`, "{ \"a\" : [ 1 , 2 ] }\n", `{"a":"<b>&"}`, "{\"a\":\"\u2028\"}", "{\"a\":\"\xff\"}",
		`null`, `"str"`, "  1e5  ", `{"a":"x\" y","b":"\\"}`, `[]`, `{"k":{"deep":[true,false,null,-0.5e+3]}}`,
		"\t{\r\n}\t", `{"a":"\u0022 x" , "b" : "\\ " , "c":"\" "}`, `{"a":"\u2028 \u003c" }`}
	cases := map[string]*openrtb2.BidRequest{
		"nil imp":       {ID: "x"},
		"empty imp":     {ID: "x", Imp: []openrtb2.Imp{}},
		"zero structs":  {Imp: []openrtb2.Imp{{}}, Site: &openrtb2.Site{}, Device: &openrtb2.Device{}, User: &openrtb2.User{}, Source: &openrtb2.Source{}, Regs: &openrtb2.Regs{}},
		"zero inner":    {Imp: []openrtb2.Imp{{Banner: &openrtb2.Banner{Format: []openrtb2.Format{{}}}, Video: &openrtb2.Video{}}}, Site: &openrtb2.Site{Publisher: &openrtb2.Publisher{}}, Device: &openrtb2.Device{Geo: &openrtb2.Geo{}}, User: &openrtb2.User{Geo: &openrtb2.Geo{}}, Source: &openrtb2.Source{SChain: &openrtb2.SupplyChain{}}},
		"empty slices":  {Imp: []openrtb2.Imp{{Video: &openrtb2.Video{MIMEs: []string{}, Protocols: []adcom1.MediaCreativeSubtype{}}, Banner: &openrtb2.Banner{Format: []openrtb2.Format{}, MIMEs: []string{}}}}, Cur: []string{}, BCat: []string{}, Source: &openrtb2.Source{SChain: &openrtb2.SupplyChain{Nodes: []openrtb2.SupplyChainNode{}}}, Regs: &openrtb2.Regs{GPPSID: []int8{}}},
		"zero node":     {Source: &openrtb2.Source{SChain: &openrtb2.SupplyChain{Nodes: []openrtb2.SupplyChainNode{{}, {HP: i8(0)}}}}},
		"large ints":    {TMax: math.MaxInt64, AT: math.MinInt64, Test: -128, AllImps: 127, Imp: []openrtb2.Imp{{Exp: -1, Banner: &openrtb2.Banner{W: i64(math.MaxInt64), H: i64(0), BAttr: []adcom1.CreativeAttribute{math.MinInt64, 0, 17}}}}, Regs: &openrtb2.Regs{GDPR: i8(0), GPPSID: []int8{-128, 0, 127}}},
		"zero pointers": {Device: &openrtb2.Device{DNT: i8(0), JS: i8(0), Geo: &openrtb2.Geo{Lat: f(0), Lon: f(negZero)}}, Imp: []openrtb2.Imp{{Secure: i8(0)}}},
		"omitted -0":    {Imp: []openrtb2.Imp{{BidFloor: negZero, DT: negZero}}, Device: &openrtb2.Device{PxRatio: negZero}},
		"NaN":           {Imp: []openrtb2.Imp{{BidFloor: math.NaN()}}},
		"+Inf":          {Device: &openrtb2.Device{Geo: &openrtb2.Geo{Lat: f(math.Inf(1))}}},
		"-Inf pointer":  {User: &openrtb2.User{Geo: &openrtb2.Geo{Lon: f(math.Inf(-1))}}},
		"invalid ext":   {Ext: json.RawMessage(`{"a":`)},
		"garbage ext":   {User: &openrtb2.User{Ext: json.RawMessage(`{} x`)}},
		"bare ext":      {Regs: &openrtb2.Regs{Ext: json.RawMessage(`a`)}},
	}
	for i, v := range floats {
		cases[fmt.Sprintf("float %d %g", i, v)] = &openrtb2.BidRequest{
			Imp:    []openrtb2.Imp{{BidFloor: v, DT: -v}},
			Device: &openrtb2.Device{PxRatio: v, Geo: &openrtb2.Geo{Lat: f(v), Lon: f(-v)}},
			User:   &openrtb2.User{Geo: &openrtb2.Geo{Lat: f(v)}},
		}
	}
	for i, s := range strs {
		cases[fmt.Sprintf("string %d %q", i, s)] = &openrtb2.BidRequest{ID: s, Cur: []string{s, s},
			Imp:    []openrtb2.Imp{{ID: s, TagID: s, Banner: &openrtb2.Banner{MIMEs: []string{s}}, Video: &openrtb2.Video{MIMEs: []string{s}}}},
			Site:   &openrtb2.Site{Page: s, Keywords: s, Publisher: &openrtb2.Publisher{ID: s}},
			Device: &openrtb2.Device{UA: s, Geo: &openrtb2.Geo{Country: s}},
			Source: &openrtb2.Source{TID: s, SChain: &openrtb2.SupplyChain{Ver: s, Nodes: []openrtb2.SupplyChainNode{{ASI: s, SID: s, RID: s}}}},
			Regs:   &openrtb2.Regs{USPrivacy: s, GPP: s}}
	}
	for i, raw := range raws {
		m := json.RawMessage(raw)
		cases[fmt.Sprintf("raw %d %q", i, raw)] = &openrtb2.BidRequest{Ext: m,
			Imp:    []openrtb2.Imp{{Ext: m, Banner: &openrtb2.Banner{Ext: m, Format: []openrtb2.Format{{W: 1, Ext: m}}}, Video: &openrtb2.Video{Ext: m}}},
			Site:   &openrtb2.Site{Ext: m, Publisher: &openrtb2.Publisher{Ext: m}},
			Device: &openrtb2.Device{Ext: m, Geo: &openrtb2.Geo{Ext: m}},
			User:   &openrtb2.User{Ext: m},
			Source: &openrtb2.Source{Ext: m, SChain: &openrtb2.SupplyChain{Ext: m, Nodes: []openrtb2.SupplyChainNode{{Ext: m}}}},
			Regs:   &openrtb2.Regs{Ext: m}}
	}
	refused := 0
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			covered := checkRequestJSON(t, r)
			if _, err := json.Marshal(r); err != nil {
				refused++
			} else if !covered {
				t.Errorf("fell back on a request it covers")
			}
		})
	}
	if refused != 6 {
		t.Errorf("%d cases refused by encoding/json, want the 6 NaN/Inf/invalid ones", refused)
	}
}

// A request with a part the appender does not write goes to encoding/json
// whole (and is counted), with the same bytes.
func TestRequestJSONFallback(t *testing.T) {
	uncovered := []*openrtb2.BidRequest{
		{App: &openrtb2.App{ID: "a"}},
		{DOOH: &openrtb2.DOOH{}},
		{Imp: []openrtb2.Imp{{Native: &openrtb2.Native{Request: "{}"}}}},
		{Imp: []openrtb2.Imp{{PMP: &openrtb2.PMP{}}}},
		{Imp: []openrtb2.Imp{{Metric: []openrtb2.Metric{{Type: "viewability"}}}}},
		{Imp: []openrtb2.Imp{{Audio: &openrtb2.Audio{}}, {Qty: &openrtb2.Qty{}}, {Refresh: &openrtb2.Refresh{}}}},
		{Imp: []openrtb2.Imp{{Video: &openrtb2.Video{CompanionAd: []openrtb2.Banner{{}}}}}},
		{Imp: []openrtb2.Imp{{Video: &openrtb2.Video{DurFloors: []openrtb2.DurFloors{{}}}}}},
		{Site: &openrtb2.Site{Content: &openrtb2.Content{}}},
		{Device: &openrtb2.Device{SUA: &openrtb2.UserAgent{}}},
		{User: &openrtb2.User{EIDs: []openrtb2.EID{{Source: "x"}}}},
		{User: &openrtb2.User{Data: []openrtb2.Data{{}}}},
	}
	for i, r := range uncovered {
		before := requestFallbacks.Load()
		if checkRequestJSON(t, r) {
			t.Errorf("case %d: the appender wrote a request with an uncovered part", i)
		}
		if requestFallbacks.Load() != before+1 {
			t.Errorf("case %d: fallback not counted", i)
		}
	}
}

// fixtureRequests are the expected DSP requests of auction/testdata.
func fixtureRequests(tb testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/*.json")
	var out [][]byte
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		var fx fixture
		if err := json.Unmarshal(raw, &fx); err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		for _, d := range fx.DSPs {
			if !isNull(d.ExpectedRequest) {
				out = append(out, d.ExpectedRequest)
			}
		}
	}
	if len(out) < 5 {
		tb.Fatalf("only %d fixture requests", len(out))
	}
	return out
}

// The body of a gzip DSP is the gzip of Encoder.Encode's bytes, written
// in one piece as Encode wrote them (so the very bytes the old path sent),
// and log.payloads keeps the JSON without its newline, gzip or not; the
// pooled scratch buffer never leaks into a body.
func TestRequestBodyGzipAndCapture(t *testing.T) {
	var reqs []*openrtb2.BidRequest
	for _, raw := range fixtureRequests(t) {
		r := new(openrtb2.BidRequest)
		if err := json.Unmarshal(raw, r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	for _, gz := range []bool{false, true} {
		c := &dspClient{capture: true}
		c.cfg.Gzip = gz
		var bodies [][]byte
		for _, r := range reqs {
			want, err := encoderJSON(r)
			if err != nil {
				t.Fatal(err)
			}
			if gz {
				var zb bytes.Buffer
				zw := gzip.NewWriter(&zb)
				zw.Write(want)
				zw.Close()
				want = zb.Bytes()
			}
			body, kept, err := c.encodeRequest(r, 16)
			if err != nil || !bytes.Equal(body, want) {
				t.Fatalf("gzip %v: body %q (%v), want %q", gz, body, err, want)
			}
			if m, _ := json.Marshal(r); !bytes.Equal(kept, m) {
				t.Errorf("gzip %v: kept %s, want %s", gz, kept, m)
			}
			bodies = append(bodies, body)
		}
		for i, r := range reqs { // no later request overwrote an earlier body
			body, _, _ := c.encodeRequest(r, 0)
			if !bytes.Equal(body, bodies[i]) {
				t.Errorf("gzip %v: body %d changed after later requests", gz, i)
			}
		}
	}
}
