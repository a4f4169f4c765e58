package auction

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// The appenders write JSON the way encoding/json's Encoder writes it
// (HTML escaping on, as Encoder and Marshal default to). They take and
// return the buffer rather than keeping it in a struct: a slice stored
// through a pointer costs a write barrier per append while the GC runs.
// Every member key is written with a leading comma (`,"id":`); closeObj
// turns the first one into the opening brace, so no comma state is kept.
// *bad is set for a value encoding/json would refuse or one not covered;
// the caller then lets encoding/json encode the whole request.

// closeObj ends an object whose members began at start.
func closeObj(b []byte, start int) []byte {
	if len(b) == start {
		return append(b, '{', '}')
	}
	b[start] = '{'
	return append(b, '}')
}

// closeArr ends an array whose elements (each after a comma) began at start.
func closeArr(b []byte, start int) []byte {
	if len(b) == start {
		return append(b, '[', ']')
	}
	b[start] = '['
	return append(b, ']')
}

// aStr writes a string member, omitted when empty (omitempty).
func aStr(b []byte, k, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, k...), s)
}

// aNum writes an integer member, omitted when zero (omitempty).
func aNum[T ~int8 | ~int64](b []byte, k string, v T) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, k...), int64(v), 10)
}

// aPtr writes an integer pointer member, omitted when nil (omitempty).
func aPtr[T ~int8 | ~int64](b []byte, k string, p *T) []byte {
	if p == nil {
		return b
	}
	return strconv.AppendInt(append(b, k...), int64(*p), 10)
}

// aNums writes an integer array member, omitted when empty (omitempty).
func aNums[T ~int8 | ~int64](b []byte, k string, l []T) []byte {
	if len(l) == 0 {
		return b
	}
	b = append(b, k...)
	start := len(b)
	for _, v := range l {
		b = strconv.AppendInt(append(b, ','), int64(v), 10)
	}
	return closeArr(b, start)
}

// aStrs writes a string array member, omitted when empty (omitempty).
func aStrs(b []byte, k string, l []string) []byte {
	if len(l) == 0 {
		return b
	}
	return aStrArray(b, k, l)
}

// aStrArray writes a string array member that is never omitted: nil is
// null, as encoding/json writes a nil slice.
func aStrArray(b []byte, k string, l []string) []byte {
	b = append(b, k...)
	if l == nil {
		return append(b, "null"...)
	}
	start := len(b)
	for _, s := range l {
		b = appendJSONString(append(b, ','), s)
	}
	return closeArr(b, start)
}

// aFloat writes a float64 member, omitted when zero (omitempty; -0 too).
func aFloat(b []byte, bad *bool, k string, f float64) []byte {
	if f == 0 {
		return b
	}
	return appendJSONFloat(append(b, k...), bad, f)
}

// aFloatPtr writes a *float64 member, omitted when nil.
func aFloatPtr(b []byte, bad *bool, k string, p *float64) []byte {
	if p == nil {
		return b
	}
	return appendJSONFloat(append(b, k...), bad, *p)
}

// appendJSONFloat is encoding/json's floatEncoder for 64 bits: ES6
// number form, 'e' below 1e-6 and from 1e21, exponents not padded. NaN
// and ±Inf are an error there, so they send the request to encoding/json.
func appendJSONFloat(b []byte, bad *bool, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		*bad = true
		return b
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// aRaw writes a json.RawMessage member (omitted when empty) compacted as
// encoding/json compacts a Marshaler's output: whitespace between tokens
// dropped, < > & and U+2028/U+2029 escaped, everything else (invalid
// UTF-8 included) copied. Invalid JSON is an error there: bad.
func aRaw(b []byte, bad *bool, k string, m json.RawMessage) []byte {
	if len(m) == 0 {
		return b
	}
	if !validJSON(m) {
		*bad = true
		return b
	}
	b = append(b, k...)
	inString := false
	start := 0
	for i := 0; i < len(m); i++ {
		c := m[i]
		if rawPlain[c] {
			continue
		}
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, m[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(m) && m[i+1] == 0x80 && m[i+2]&^1 == 0xA8:
			b = append(b, m[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[m[i+2]&0xF])
			i += 2
			start = i + 1
		case inString:
			// Valid JSON: a string ends at the first unescaped quote, and
			// a backslash is followed by one ASCII byte (\u by hex digits).
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b = append(b, m[start:i]...)
			start = i + 1
		}
	}
	return append(b, m[start:]...)
}

const hexDigits = "0123456789abcdef"

// validJSON is json.Valid(m), mostly without it: laxjson's one-pass scanner
// accepts only valid JSON and declines what it does not read as
// encoding/json does (invalid UTF-8, very deep nesting), which json.Valid
// then decides. json.Valid's state machine was 2 % of the bridge's CPU per
// auction, on the AdServer's keywords in user.ext.
func validJSON(m []byte) bool {
	if end, ok := laxjson.SkipValue(m, laxjson.WS(m, 0)); ok && laxjson.WS(m, end) == len(m) {
		return true
	}
	return json.Valid(m)
}

// rawPlain marks the bytes aRaw copies whatever its state: all but
// whitespace, quote, backslash, < > & and 0xE2 (the lead byte of U+2028).
var rawPlain = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range []byte(" \t\n\r\"\\<>&\xe2") {
		t[c] = false
	}
	return t
}()

// strPlain marks the bytes a JSON string holds as they are: ASCII from
// 0x20 but " \ < > & (encoding/json's htmlSafeSet).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range []byte(`"\\<>&`) {
		t[c] = false
	}
	return t
}()

// appendJSONString is encoding/json's appendString with escapeHTML: the
// short escapes for \b \f \n \r \t " and \\, \u00XX for other control
// bytes and < > &, \ufffd for each invalid UTF-8 byte, and \u2028 and
// \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if strPlain[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
