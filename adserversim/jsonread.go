// Package adserversim plays the Adshares AdServer against the bridge: it
// registers through /info.json, imports /inventory, sends /bid the way PHP
// encodes it, reports views and clicks with the AdServer's query strings,
// and collects payments with signed payment-details requests. Every answer is
// checked with the AdServer's own rules (ADSERVER-BRIDGE.md §4–§13), all or
// nothing, so a test or the demo sees exactly what would break a real one.
package adserversim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/adshares/dsp-bridge/ads"
)

// ValidationError says which AdServer rule an answer of the bridge broke.
type ValidationError struct {
	Doc  string // which answer: "info.json", "inventory", "bid", "payment-reports", "payment-details"
	Path string // where in the body, e.g. "[0].creatives[1].serve_url"; "" for the whole body
	Rule string // what is wrong and what the AdServer does about it
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Doc + ": " + e.Rule
	}
	return e.Doc + ": " + e.Path + ": " + e.Rule
}

// checker collects the first broken rule of one document: the AdServer
// validates all or nothing, so one failure is the verdict.
type checker struct {
	doc string
	err *ValidationError
}

func (c *checker) fail(path, format string, args ...any) {
	if c.err == nil {
		c.err = &ValidationError{Doc: c.doc, Path: path, Rule: fmt.Sprintf(format, args...)}
	}
}

func (c *checker) ok() bool { return c.err == nil }

func (c *checker) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// decodeJSON decodes like PHP json_decode would accept: valid UTF-8, one
// value, numbers kept as written so integers and floats stay apart.
func decodeJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty body")
	}
	if !utf8.Valid(body) {
		return nil, errors.New("body is not valid UTF-8 (json_decode fails)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return v, nil
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		if _, ok := jsonInt(x); ok {
			return "integer"
		}
		return "number " + string(x)
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonInt returns v as an int64 if it is a JSON integer literal that fits
// (PHP decodes bigger ones and any 1.0 or 1e3 as float).
func jsonInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// asObject accepts a JSON object, or [] which is how PHP encodes an empty one.
func asObject(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case []any:
		if len(x) == 0 {
			return map[string]any{}, true
		}
	}
	return nil, false
}

var (
	hex32Re = regexp.MustCompile(`^[0-9a-f]{32}$`)
	atomRe  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$`)
)

// isHex32 reports a 32-character lowercase hex id (§4.3).
func isHex32(s string) bool { return hex32Re.MatchString(s) }

// checkATOM returns "" for a DATE_ATOM timestamp in +00:00 (§4.4,
// DECISIONS §9), else what is wrong with it.
func checkATOM(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("must be an ATOM date string, got %s", jsonType(v))
	}
	if !atomRe.MatchString(s) {
		return fmt.Sprintf("%q is not DATE_ATOM Y-m-d\\TH:i:s+00:00 (no Z, no fractions)", s)
	}
	if _, err := ads.ParseATOM(s); err != nil {
		return fmt.Sprintf("%q is not a real date", s)
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
