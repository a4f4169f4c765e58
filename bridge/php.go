package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The AdServer's bodies are PHP json_encode output (ADSERVER-BRIDGE §4.1):
// an empty PHP array is `[]` even where an object is meant, a list may be an
// object with string keys, and legacy paths send strings where the current
// one sends arrays or booleans. These types accept every such form.

// phpObject decodes an object into V, and `[]` or null as the zero V.
type phpObject[V any] struct{ V V }

func (o *phpObject[V]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if isEmptyPHP(b) {
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("want an object, got %s", kindOf(b))
	}
	return json.Unmarshal(b, &o.V)
}

// phpString is a string that may arrive as null (""), a number or a boolean
// (their JSON text); objects and arrays are errors.
type phpString string

func (s *phpString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty value")
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = phpString(v)
	case string(b) == "null":
		*s = ""
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, got %s", kindOf(b))
	default:
		*s = phpString(b)
	}
	return nil
}

// phpStrings is a list of strings that may arrive as one string, as an
// object with index keys, or as `[]`; null elements are dropped.
type phpStrings []string

func (l *phpStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s phpString
		if err := s.UnmarshalJSON(b); err != nil {
			return err
		}
		*l = phpStrings{string(s)}
		return nil
	}
	if string(b) == "null" {
		*l = nil
		return nil
	}
	var out []string
	err := eachValue(b, func(v json.RawMessage) error {
		var s phpString
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

// phpBool is a boolean that may arrive as true/false, 0/1, "1"/"0",
// "true"/"false", "yes"/"no" or null (unset).
type phpBool struct {
	Set, V bool
}

func (p *phpBool) UnmarshalJSON(b []byte) error {
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
		*p = phpBool{}
	case "true", "1", "yes", "1.0":
		*p = phpBool{Set: true, V: true}
	case "false", "0", "no", "0.0":
		*p = phpBool{Set: true, V: false}
	default:
		return fmt.Errorf("want a boolean, got %s", kindOf(b))
	}
	return nil
}

// eachValue calls fn with every value of a JSON array, or of a JSON object
// (in document order, keys ignored): PHP turns a list into either.
func eachValue(b []byte, fn func(json.RawMessage) error) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '[' && b[0] != '{') {
		return fmt.Errorf("want an array or object, got %s", kindOf(b))
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

func isEmptyPHP(b []byte) bool {
	s := string(b)
	return s == "null" || (len(s) >= 2 && s[0] == '[' && strings.TrimSpace(s[1:len(s)-1]) == "")
}

func kindOf(b []byte) string {
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
