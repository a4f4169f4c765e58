// Package testjson compares JSON documents in tests by value, the way
// fixture tests pin requests and answers.
package testjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Equal fails t when got and want are not the same JSON value (key order
// and spacing aside), printing both indented.
func Equal(t testing.TB, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: fixture not JSON: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		gi, _ := json.MarshalIndent(g, "", "  ")
		wi, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s differs:\n got: %s\nwant: %s", what, gi, wi)
	}
}
