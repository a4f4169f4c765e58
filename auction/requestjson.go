package auction

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// The BidRequest each DSP is sent is written by hand (appendBidRequest)
// rather than by encoding/json's reflection, which was about a tenth of
// the bridge's CPU under load. The bytes are exactly encoding/json's:
// fields in declaration order, its omitempty rules, its escaping, float
// form and RawMessage compaction, as TestRequestJSONFixtures and
// FuzzRequestJSON check against encoding/json itself. A request using a
// part of OpenRTB the bridge never fills (app, native, pmp, eids, ...) or
// holding a value encoding/json refuses is left to encoding/json whole,
// so correctness never depends on covering all of OpenRTB.

// requestFallbacks counts requests encoded by encoding/json instead of
// appendBidRequest; the fixture test requires that none of its requests do.
var requestFallbacks atomic.Uint64

// requestEncoded, when set (tests only), sees each request and the JSON
// it became, so a test can compare them with encoding/json's.
var requestEncoded atomic.Pointer[func(*openrtb2.BidRequest, []byte)]

// appendRequestJSON appends r as json.NewEncoder(w).Encode(r) writes it,
// trailing newline included.
func appendRequestJSON(dst []byte, r *openrtb2.BidRequest) ([]byte, error) {
	out, ok := appendBidRequest(dst, r)
	if !ok {
		requestFallbacks.Add(1)
		buf := bytes.NewBuffer(dst)
		if err := json.NewEncoder(buf).Encode(r); err != nil {
			return dst, err
		}
		out = buf.Bytes()
	} else {
		out = append(out, '\n')
	}
	if hook := requestEncoded.Load(); hook != nil {
		(*hook)(r, out[len(dst):])
	}
	return out, nil
}

// requestScratch recycles the JSON of gzipped requests: only the
// compressed copy reaches the transport, so the JSON is free once
// compressed. maxPooledScratch keeps one huge request from pinning memory.
var requestScratch = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledScratch = 64 << 10

// encodeRequest is the body to send for req, in a buffer of its own
// (never pooled: the transport may read it after Do returns) with room for
// hint bytes, gzipped for a DSP that takes gzip; kept is the JSON (no
// newline) when the DSP's payloads are captured.
func (c *dspClient) encodeRequest(req *openrtb2.BidRequest, hint int64) (body, kept []byte, err error) {
	if !c.cfg.Gzip {
		body, err = appendRequestJSON(make([]byte, 0, hint), req)
		if c.capture && err == nil {
			kept = bytes.Clone(body[:len(body)-1])
		}
		return body, kept, err
	}
	scratch := requestScratch.Get().(*[]byte)
	defer func() {
		if cap(*scratch) <= maxPooledScratch {
			requestScratch.Put(scratch)
		}
	}()
	js, err := appendRequestJSON((*scratch)[:0], req)
	*scratch = js[:0]
	if err != nil {
		return nil, nil, err
	}
	if c.capture {
		kept = bytes.Clone(js[:len(js)-1])
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint))
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(buf)
	_, err = zw.Write(js) // one write, as Encoder.Encode made: the same compressed bytes
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	zw.Reset(nil) // let go of buf
	gzipWriters.Put(zw)
	return buf.Bytes(), kept, err
}
