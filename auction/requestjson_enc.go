package auction

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// reqEnc appends JSON the way encoding/json's Encoder writes it (HTML
// escaping on, as Encoder and Marshal default to). It tracks only whether
// the next member or element needs a comma; bad is set when a value is
// one encoding/json would refuse or one the appender does not cover, and
// the caller then lets encoding/json encode the whole request.
type reqEnc struct {
	b     []byte
	comma bool // a value was just completed: the next key or element needs ','
	bad   bool
}

// next writes the comma before a member or an element, if one is due.
func (e *reqEnc) next() {
	if e.comma {
		e.b = append(e.b, ',')
	}
}

// key starts a member; k is the quoted key with its colon (`"id":`).
func (e *reqEnc) key(k string) {
	e.next()
	e.b = append(e.b, k...)
	e.comma = false
}

func (e *reqEnc) open(c byte)  { e.b = append(e.b, c); e.comma = false }
func (e *reqEnc) close(c byte) { e.b = append(e.b, c); e.comma = true }

// str writes a string member, omitted when empty (omitempty).
func (e *reqEnc) str(k, s string) {
	if s != "" {
		e.key(k)
		e.quote(s)
	}
}

// quote writes s as a JSON string.
func (e *reqEnc) quote(s string) {
	e.b = appendJSONString(e.b, s)
	e.comma = true
}

// num writes an integer member, omitted when zero (omitempty).
func num[T ~int8 | ~int64](e *reqEnc, k string, v T) {
	if v != 0 {
		e.key(k)
		e.int(int64(v))
	}
}

// ptr writes an integer pointer member, omitted when nil (omitempty).
func ptr[T ~int8 | ~int64](e *reqEnc, k string, p *T) {
	if p != nil {
		e.key(k)
		e.int(int64(*p))
	}
}

func (e *reqEnc) int(v int64) {
	e.b = strconv.AppendInt(e.b, v, 10)
	e.comma = true
}

// nums writes an integer array member, omitted when empty (omitempty).
func nums[T ~int8 | ~int64](e *reqEnc, k string, l []T) {
	if len(l) == 0 {
		return
	}
	e.key(k)
	e.open('[')
	for _, v := range l {
		e.next()
		e.int(int64(v))
	}
	e.close(']')
}

// strs writes a string array member, omitted when empty (omitempty).
func (e *reqEnc) strs(k string, l []string) {
	if len(l) > 0 {
		e.strArray(k, l)
	}
}

// strArray writes a string array member that is never omitted: nil is
// null, as encoding/json writes a nil slice.
func (e *reqEnc) strArray(k string, l []string) {
	e.key(k)
	if l == nil {
		e.b = append(e.b, "null"...)
		e.comma = true
		return
	}
	e.open('[')
	for _, s := range l {
		e.next()
		e.quote(s)
	}
	e.close(']')
}

// float writes a float64 member, omitted when zero (omitempty; -0 too).
func (e *reqEnc) float(k string, f float64) {
	if f != 0 {
		e.key(k)
		e.f64(f)
	}
}

// floatPtr writes a *float64 member, omitted when nil.
func (e *reqEnc) floatPtr(k string, p *float64) {
	if p != nil {
		e.key(k)
		e.f64(*p)
	}
}

// f64 is encoding/json's floatEncoder for 64 bits: ES6 number form, 'e'
// below 1e-6 and from 1e21, exponents not padded; NaN and ±Inf are an
// error there, so they send the request to encoding/json.
func (e *reqEnc) f64(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.bad = true
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	e.b = b
	e.comma = true
}

// raw writes a json.RawMessage member (omitted when empty) compacted as
// encoding/json compacts a Marshaler's output: whitespace between tokens
// dropped, < > & and U+2028/U+2029 escaped, everything else (invalid
// UTF-8 included) copied. Invalid JSON is an error there: bad.
func (e *reqEnc) raw(k string, m json.RawMessage) {
	if len(m) == 0 {
		return
	}
	if !json.Valid(m) {
		e.bad = true
		return
	}
	e.key(k)
	inString, escaped := false, false
	start := 0
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			e.b = append(e.b, m[start:i]...)
			e.b = append(e.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(m) && m[i+1] == 0x80 && m[i+2]&^1 == 0xA8:
			e.b = append(e.b, m[start:i]...)
			e.b = append(e.b, '\\', 'u', '2', '0', '2', hexDigits[m[i+2]&0xF])
			i += 2
			start = i + 1
		case inString:
			// Valid JSON: a string ends at the first unescaped quote.
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			e.b = append(e.b, m[start:i]...)
			start = i + 1
		}
	}
	e.b = append(e.b, m[start:]...)
	e.comma = true
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's appendString with escapeHTML: the
// short escapes for \b \f \n \r \t " and \\, \u00XX for other control
// bytes and < > &, \ufffd for each invalid UTF-8 byte, and \u2028 and
// \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
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
