package bridge

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/adshares/dsp-bridge/auction"
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
	writePlain(buf, len(out), func(i int) bidAnswer { return out[i] })
	return nil
}

// encodeWins is encodeAnswer of the answers of wins (never "null"), without
// making them when every id and serve_url is plain, the usual answer.
func encodeWins(buf *bytes.Buffer, wins []auction.Win) error {
	for _, w := range wins {
		if !plainJSON(w.RequestID) || !plainJSON(w.ExtID) || !plainJSON(w.ServeURL) {
			return encodeAnswer(buf, answersOf(wins))
		}
	}
	writePlain(buf, len(wins), func(i int) bidAnswer {
		return bidAnswer{RequestID: wins[i].RequestID, ExtID: wins[i].ExtID, ServeURL: wins[i].ServeURL}
	})
	return nil
}

// answersOf is the /bid answer of wins.
func answersOf(wins []auction.Win) []bidAnswer {
	out := make([]bidAnswer, 0, len(wins))
	for _, w := range wins {
		out = append(out, bidAnswer{RequestID: w.RequestID, ExtID: w.ExtID, ServeURL: w.ServeURL})
	}
	return out
}

// writePlain writes the n answers at gives, all plain (plainJSON), as the
// encoder would, newline included.
func writePlain(buf *bytes.Buffer, n int, at func(int) bidAnswer) {
	size := 3
	for i := range n {
		a := at(i)
		size += len(a.RequestID) + len(a.ExtID) + len(a.ServeURL) + 50
	}
	buf.Grow(size)
	buf.WriteByte('[')
	for i := range n {
		a := at(i)
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
