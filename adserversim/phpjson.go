package adserversim

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Obj is a PHP array with string keys, kept in insertion order as PHP keeps
// it. Encoded as a JSON object, except that keys exactly "0".."n-1" in order
// make a JSON array and no keys at all make [] (§4.1).
type Obj []KV

// KV is one entry of an Obj.
type KV struct {
	K string
	V any
}

// phpJSON encodes v as PHP json_encode with default flags does: compact,
// "/" escaped as "\/", non-ASCII as \uXXXX (lowercase hex, UTF-16 pairs),
// empty arrays and objects as [], and floats with a fraction (1.0 stays
// 1.0, as ADSERVER-BRIDGE.md §4.1 says the AdServer sends it). It takes nil,
// bool, int, int64, float64, string, []string, []float64, []any, Obj and
// map[string]any (keys sorted, for a stable body).
func phpJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := phpEncode(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func phpEncode(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		s, err := phpFloat(x)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case string:
		return phpString(b, x)
	case []string:
		return phpList(b, len(x), func(i int) any { return x[i] })
	case []float64:
		return phpList(b, len(x), func(i int) any { return x[i] })
	case []any:
		return phpList(b, len(x), func(i int) any { return x[i] })
	case map[string]any:
		o := make(Obj, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			o = append(o, KV{k, x[k]})
		}
		return phpEncode(b, o)
	case Obj:
		if x.isList() {
			return phpList(b, len(x), func(i int) any { return x[i].V })
		}
		b.WriteByte('{')
		for i, kv := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := phpString(b, kv.K); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := phpEncode(b, kv.V); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("phpJSON: cannot encode %T", v)
	}
	return nil
}

// isList reports the keys PHP would call a list: "0", "1", ... in order
// (so an empty Obj is a list too, and encodes as []).
func (o Obj) isList() bool {
	for i, kv := range o {
		if kv.K != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

func phpList(b *bytes.Buffer, n int, at func(int) any) error {
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := phpEncode(b, at(i)); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	return nil
}

func phpString(b *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("phpJSON: %q is not valid UTF-8 (json_encode fails)", s)
	}
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&15])
		b.WriteByte(hex[r>>8&15])
		b.WriteByte(hex[r>>4&15])
		b.WriteByte(hex[r&15])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '/':
			b.WriteString(`\/`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			u(r)
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			u(r1)
			u(r2)
		default:
			u(r)
		}
	}
	b.WriteByte('"')
	return nil
}

// phpFloat formats like PHP with serialize_precision -1: the shortest digits
// that round-trip, exponent form below 1e-4 or from 1e17 up ("1.0e+25"),
// and ".0" after a whole number.
func phpFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("phpJSON: %v cannot be encoded (json_encode fails)", f)
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0", nil
		}
		return "0.0", nil
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	x, _ := strconv.Atoi(exp)
	if decpt := x + 1; decpt < -3 || decpt > 17 {
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		sign := "+"
		if x < 0 {
			sign, x = "-", -x
		}
		return mant + "e" + sign + strconv.Itoa(x), nil
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s, nil
}
