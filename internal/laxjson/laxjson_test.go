package laxjson_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/adshares/dsp-bridge/internal/laxjson"
)

func TestLaxForms(t *testing.T) {
	var v struct {
		S   laxjson.String                    `json:"s"`
		N   laxjson.String                    `json:"n"`
		L   laxjson.Strings                   `json:"l"`
		One laxjson.Strings                   `json:"one"`
		Idx laxjson.Strings                   `json:"idx"`
		B   laxjson.Bool                      `json:"b"`
		O   laxjson.Object[map[string]string] `json:"o"`
		E   laxjson.Object[map[string]string] `json:"e"`
	}
	err := json.Unmarshal([]byte(`{"s":null,"n":42,"l":["a",null,"b"],"one":"x","idx":{"1":"p","0":"q"},"b":"1","o":{"k":"v"},"e":[]}`), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.S != "" || v.N != "42" || !slices.Equal(v.L, []string{"a", "b"}) || !slices.Equal(v.One, []string{"x"}) ||
		!slices.Equal(v.Idx, []string{"p", "q"}) || !v.B.Set || !v.B.V || v.O.V["k"] != "v" || v.E.V != nil {
		t.Fatalf("decoded %+v", v)
	}
	for _, bad := range []string{`{"s":{}}`, `{"b":"maybe"}`, `{"o":"x"}`, `{"l":[{}]}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if got := laxjson.FirstString([]byte(`[" us ","de"]`)); got != "us" {
		t.Errorf("FirstString = %q", got)
	}
	if got := laxjson.Kind([]byte(`1.5`)); got != "a number" {
		t.Errorf("Kind = %q", got)
	}
	var typed struct{ A int }
	if p := laxjson.Problem(json.Unmarshal([]byte(`{"A":"x"}`), &typed)); p != "A: want int, got string" {
		t.Errorf("Problem = %q", p)
	}
}
