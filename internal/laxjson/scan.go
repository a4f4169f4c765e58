package laxjson

import (
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The scanner below reads JSON text in one pass, for the hot paths' fast
// decoders (the /bid body, DSP answers). Every function takes the text and
// the index of a value and returns the index just past it, with ok false
// on anything it does not read exactly like encoding/json: a syntax
// error, but also input it declines to handle (invalid UTF-8, lone
// surrogates, very deep nesting). A fast decoder that sees ok false hands
// the whole input to the encoding/json decoder instead, which then decides
// (and words the error) as it always did.

// maxSkipDepth bounds the nesting SkipValue follows; deeper input goes to
// encoding/json (whose own limit is 10000).
const maxSkipDepth = 512

// WS returns the index of the first non-whitespace byte at or after i.
func WS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipValue returns the end of the valid JSON value at b[i].
func SkipValue(b []byte, i int) (int, bool) {
	return skipValue(b, i, 0)
}

func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return SkipString(b, i)
	case c == '{':
		if depth >= maxSkipDepth {
			return i, false
		}
		i = WS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			var ok bool
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = SkipString(b, i); !ok {
				return i, false
			}
			if i = WS(b, i); i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = skipValue(b, WS(b, i+1), depth+1); !ok {
				return i, false
			}
			if i = WS(b, i); i >= len(b) {
				return i, false
			}
			if b[i] == '}' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = WS(b, i+1)
		}
	case c == '[':
		if depth >= maxSkipDepth {
			return i, false
		}
		i = WS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipValue(b, i, depth+1); !ok {
				return i, false
			}
			if i = WS(b, i); i >= len(b) {
				return i, false
			}
			if b[i] == ']' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = WS(b, i+1)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return SkipNumber(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return i, false
}

func literal(b []byte, i int, word string) (int, bool) {
	if len(b)-i >= len(word) && string(b[i:i+len(word)]) == word {
		return i + len(word), true
	}
	return i, false
}

// IsNull reports whether the value at b[i] is null (and returns its end).
func IsNull(b []byte, i int) (int, bool) {
	return literal(b, i, "null")
}

// SkipNumber returns the end of the JSON number at b[i] (RFC 8259 grammar).
func SkipNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	}
	return i, true
}

// SkipString returns the end of the JSON string at b[i] == '"'. It declines
// strings whose decoding encoding/json would change (invalid UTF-8, lone
// surrogates), as ReadString does.
func SkipString(b []byte, i int) (int, bool) {
	_, end, _, ok := scanString(b, i)
	return end, ok
}

// scanString checks the string at b[i] == '"'. It returns the index of
// the first backslash (-1 if none), the end, and whether the string is
// plain: no escapes and only ASCII, so its bytes are its value.
func scanString(b []byte, i int) (firstEsc, end int, plain, ok bool) {
	firstEsc, plain = -1, true
	for i++; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return firstEsc, i + 1, plain, true
		case c == '\\':
			if firstEsc < 0 {
				firstEsc = i
			}
			plain = false
			if i+1 >= len(b) {
				return firstEsc, i, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, n := escapedRune(b, i)
				if n == 0 {
					return firstEsc, i, false, false
				}
				_ = r
				i += n
			default:
				return firstEsc, i, false, false
			}
		case c < 0x20:
			return firstEsc, i, false, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return firstEsc, i, false, false // encoding/json would write U+FFFD
			}
			plain = false
			i += n
		}
	}
	return firstEsc, i, false, false
}

// escapedRune decodes the \uXXXX escape at b[i] == '\\' (with its low
// half, for a surrogate pair) and returns the rune and the bytes used; 0
// bytes for a malformed escape or a lone surrogate.
func escapedRune(b []byte, i int) (rune, int) {
	r := hex4(b, i+2)
	if r < 0 {
		return 0, 0
	}
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
		return 0, 0
	}
	r2 := hex4(b, i+8)
	if dec := utf16.DecodeRune(r, r2); r2 >= 0 && dec != utf8.RuneError {
		return dec, 12
	}
	return 0, 0
}

func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// ReadString decodes the JSON string at b[i] == '"'.
func ReadString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	firstEsc, end, _, ok := scanString(b, i)
	if !ok {
		return "", end, false
	}
	if firstEsc < 0 {
		return string(b[i+1 : end-1]), end, true
	}
	// PHP escapes every slash: decode into one new buffer, which becomes
	// the string without a second copy (nothing else refers to it).
	out := unescape(make([]byte, 0, end-i), b, i, firstEsc, end)
	return unsafe.String(unsafe.SliceData(out), len(out)), end, true
}

// ReadStringBytes decodes the JSON string at b[i] == '"'. Without escapes
// the result is a slice of b; otherwise it is appended to scratch.
func ReadStringBytes(b []byte, i int, scratch []byte) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	firstEsc, end, _, ok := scanString(b, i)
	if !ok {
		return nil, end, false
	}
	if firstEsc < 0 {
		return b[i+1 : end-1], end, true
	}
	return unescape(scratch[:0], b, i, firstEsc, end), end, true
}

// unescape appends the value of the checked string b[i:end], whose first
// backslash is at firstEsc, to out.
func unescape(out, b []byte, i, firstEsc, end int) []byte {
	out = append(out, b[i+1:firstEsc]...)
	for j := firstEsc; j < end-1; {
		c := b[j]
		if c != '\\' {
			out = append(out, c)
			j++
			continue
		}
		switch b[j+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := escapedRune(b, j)
			out = utf8.AppendRune(out, r)
			j += n
			continue
		default: // " \ /
			out = append(out, b[j+1])
		}
		j += 2
	}
	return out
}
