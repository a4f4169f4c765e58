// Package laxjson decodes JSON that is looser than its schema: the AdServer's
// PHP json_encode output (ADSERVER-BRIDGE §4.1) and DSP answers that send
// numbers for strings. Both sides of the bridge read such JSON, so the
// tolerances live here once.
package laxjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PHP's json_encode writes an empty array as `[]` even where an object is
// meant, a list as an object with string keys when its keys are not 0..n-1,
// and legacy AdServer paths send strings where the current one sends arrays
// or booleans. These types accept every such form.

// Object decodes an object into V, and `[]` or null as the zero V.
type Object[V any] struct{ V V }

// UnmarshalJSON decodes an object into V; `[]` and null leave V zero.
func (o *Object[V]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if IsEmpty(b) {
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("want an object, got %s", Kind(b))
	}
	return json.Unmarshal(b, &o.V)
}

// String is a string that may arrive as null (""), a number or a boolean
// (their JSON text); objects and arrays are errors.
type String string

// UnmarshalJSON takes a string, null, a number or a boolean.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty value")
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
	case string(b) == "null":
		*s = ""
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, got %s", Kind(b))
	default:
		*s = String(b)
	}
	return nil
}

// Strings is a list of strings that may arrive as one string, as an
// object with index keys, or as `[]`; null elements are dropped.
type Strings []string

// UnmarshalJSON takes a string, a list, an object of index keys, or null.
func (l *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s String
		if err := s.UnmarshalJSON(b); err != nil {
			return err
		}
		*l = Strings{string(s)}
		return nil
	}
	if string(b) == "null" {
		*l = nil
		return nil
	}
	var out []string
	err := EachValue(b, func(v json.RawMessage) error {
		var s String
		if err := s.UnmarshalJSON(v); err != nil {
			return err
		}
		if string(bytes.TrimSpace(v)) != "null" {
			out = append(out, string(s))
		}
		return nil
	})
	*l = out
	return err
}

// Bool is a boolean that may arrive as true/false, 0/1, "1"/"0",
// "true"/"false", "yes"/"no" or null (unset).
type Bool struct {
	Set, V bool
}

// UnmarshalJSON takes every boolean spelling PHP paths produce.
func (p *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "null", "":
		*p = Bool{}
	case "true", "1", "yes", "1.0":
		*p = Bool{Set: true, V: true}
	case "false", "0", "no", "0.0":
		*p = Bool{Set: true, V: false}
	default:
		return fmt.Errorf("want a boolean, got %s", Kind(b))
	}
	return nil
}

// EachValue calls fn with every value of a JSON array, or of a JSON object
// (in document order, keys ignored): PHP turns a list into either.
func EachValue(b []byte, fn func(json.RawMessage) error) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '[' && b[0] != '{') {
		return fmt.Errorf("want an array or object, got %s", Kind(b))
	}
	if b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		for _, v := range list {
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the key
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// IsEmpty reports whether b is null or an empty array (PHP's empty object).
func IsEmpty(b []byte) bool {
	s := string(b)
	return s == "null" || (len(s) >= 2 && s[0] == '[' && strings.TrimSpace(s[1:len(s)-1]) == "")
}

// Kind names the JSON kind of b for error messages ("an object", "a number", ...).
func Kind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if _, err := strconv.ParseFloat(string(b), 64); err == nil {
		return "a number"
	}
	return strconv.Quote(string(b))
}

// FirstString reads "x" or ["x", ...] (trimmed); anything else is "".
func FirstString(raw json.RawMessage) string {
	var l Strings
	if len(raw) == 0 || l.UnmarshalJSON(raw) != nil || len(l) == 0 {
		return ""
	}
	return strings.TrimSpace(l[0])
}

// Problem turns a decoding error into a short reason for the caller: where
// the JSON is malformed, or which field has the wrong type.
func Problem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			// "plain." is the embedded alias of a lenient UnmarshalJSON.
			return fmt.Sprintf("%s: want %s, got %s", strings.ReplaceAll(typ.Field, "plain.", ""), typ.Type, typ.Value)
		}
		return fmt.Sprintf("want %s, got %s", typ.Type, typ.Value)
	}
	return err.Error()
}
