package bridge

import (
	"bytes"
	"encoding/json"
	"sync"
)

// answerPool recycles the buffers /bid answers are encoded into (an inline
// creative makes one as big as the creative; a buffer a huge one grew is
// not kept).
var answerPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encodeAnswer writes out as json.Encoder with SetEscapeHTML(false) does
// (the & of serve_urls stays readable, no \u0026), newline included. Ids
// and serve_urls are plain printable ASCII (data: URIs are base64), which
// need no escaping: they are copied as they are; anything else goes through
// the encoder. FuzzEncodeAnswer checks the two agree.
func encodeAnswer(buf *bytes.Buffer, out []bidAnswer) error {
	plain := out != nil // nil is "null"
	for _, a := range out {
		plain = plain && plainJSON(a.RequestID) && plainJSON(a.ExtID) && plainJSON(a.ServeURL)
	}
	if !plain {
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	n := 3
	for _, a := range out {
		n += len(a.RequestID) + len(a.ExtID) + len(a.ServeURL) + 50
	}
	buf.Grow(n)
	buf.WriteByte('[')
	for i, a := range out {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"request_id":"`)
		buf.WriteString(a.RequestID)
		buf.WriteString(`","ext_id":"`)
		buf.WriteString(a.ExtID)
		buf.WriteString(`","serve_url":"`)
		buf.WriteString(a.ServeURL)
		buf.WriteString(`"}`)
	}
	buf.WriteString("]\n")
	return nil
}

// plainJSON reports whether s is printable ASCII without '"' or '\\': a
// JSON string body as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
