package laxjson

import "strings"

// The functions below read the lax types of this package (String,
// Strings, Bool, Object) straight from JSON text with the scanner, giving
// exactly what their UnmarshalJSON methods give. ok false means the value
// is malformed or is one the UnmarshalJSON method refuses; the caller then
// falls back to encoding/json for the whole input.

// LaxString reads a String at b[i]: a string, null (""), or a number's or
// boolean's text.
func LaxString(b []byte, i int) (string, int, bool) {
	if i >= len(b) {
		return "", i, false
	}
	switch c := b[i]; {
	case c == '"':
		return ReadString(b, i)
	case c == 'n':
		end, ok := IsNull(b, i)
		return "", end, ok
	case c == '{' || c == '[':
		return "", i, false
	}
	end, ok := SkipValue(b, i)
	if !ok {
		return "", end, false
	}
	return string(b[i:end]), end, true
}

// LaxStrings reads a Strings at b[i]: one string, null, or a list (array
// or object of index keys) of String values with nulls dropped; nil when
// there are none.
func LaxStrings(b []byte, i int) ([]string, int, bool) {
	if i >= len(b) {
		return nil, i, false
	}
	switch b[i] {
	case '"':
		s, end, ok := ReadString(b, i)
		return []string{s}, end, ok
	case 'n':
		end, ok := IsNull(b, i)
		return nil, end, ok
	case '[', '{':
	default:
		return nil, i, false
	}
	var out []string
	end, ok := EachValueAt(b, i, func(j int) (int, bool) {
		if j < len(b) && b[j] == 'n' {
			return IsNull(b, j)
		}
		s, end, ok := LaxString(b, j)
		if ok {
			out = append(out, s)
		}
		return end, ok
	})
	return out, end, ok
}

// LaxBool reads a Bool at b[i] (every spelling Bool.UnmarshalJSON takes).
func LaxBool(b []byte, i int) (Bool, int, bool) {
	var s string
	var end int
	var ok bool
	if i < len(b) && b[i] == '"' {
		s, end, ok = ReadString(b, i)
	} else if i < len(b) && (b[i] == '{' || b[i] == '[') {
		return Bool{}, i, false
	} else {
		end, ok = SkipValue(b, i)
		s = string(b[i:end])
	}
	if !ok {
		return Bool{}, end, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "null", "":
		return Bool{}, end, true
	case "true", "1", "yes", "1.0":
		return Bool{Set: true, V: true}, end, true
	case "false", "0", "no", "0.0":
		return Bool{Set: true, V: false}, end, true
	}
	return Bool{}, end, false
}

// EachValueAt calls fn with the start of every value of the array or
// object at b[i] (object keys are read and ignored, as EachValue does); fn
// returns the value's end. It returns the container's end.
func EachValueAt(b []byte, i int, fn func(i int) (int, bool)) (int, bool) {
	if i >= len(b) || (b[i] != '[' && b[i] != '{') {
		return i, false
	}
	if b[i] == '{' {
		return EachMember(b, i, func(_ []byte, j int) (int, bool) { return fn(j) })
	}
	i = WS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = fn(i); !ok {
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
}

// EachMember calls fn with the decoded key and the value's start of every
// member of the object at b[i]; fn returns the value's end. The key may
// alias b or a scratch buffer: fn copies what it keeps.
func EachMember(b []byte, i int, fn func(key []byte, i int) (int, bool)) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	i = WS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	var scratch []byte
	for {
		key, end, ok := ReadStringBytes(b, i, scratch)
		if !ok {
			return end, false
		}
		if len(key) > 0 && &key[0] != &b[i+1] {
			scratch = key
		}
		if i = WS(b, end); i >= len(b) || b[i] != ':' {
			return i, false
		}
		if i, ok = fn(key, WS(b, i+1)); !ok {
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
}

// EmptyOrObject tells how an Object reads the value at b[i]: empty (null
// or `[]`, ending at end), or an object starting at b[i]; ok is false for
// anything else (which Object refuses).
func EmptyOrObject(b []byte, i int) (empty bool, end int, ok bool) {
	if i >= len(b) {
		return false, i, false
	}
	switch b[i] {
	case '{':
		return false, i, true
	case 'n':
		end, ok := IsNull(b, i)
		return true, end, ok
	case '[':
		j := WS(b, i+1)
		if j < len(b) && b[j] == ']' {
			return true, j + 1, true
		}
	}
	return false, i, false
}

// LooseKey reports whether an object key that is none of a struct's field
// names might still be taken for one by encoding/json, which matches
// names case-insensitively (and folds some non-ASCII letters, such as
// the Kelvin sign, to ASCII): a fast decoder falls back on such a key.
func LooseKey(key []byte, names []string) bool {
	for _, c := range key {
		if c >= 0x80 {
			return true
		}
	}
	for _, n := range names {
		if len(n) == len(key) && strings.EqualFold(n, string(key)) {
			return true
		}
	}
	return false
}

// End reports whether only whitespace follows b[i].
func End(b []byte, i int) bool {
	return WS(b, i) == len(b)
}
