package laxjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzScanner: whatever the text, a value the scanner takes is one
// encoding/json takes too, ending where it says, and every lax read
// (String, Strings, Bool) gives what the UnmarshalJSON methods give.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`"a\/b\u017c\ud83d\ude00\n"`, `"\ud83d"`, "\"\xff\"", `-0.5e+3`, `01`, `[1, "x", null, {"a": [true]}]`,
		`{"0":"a","1":null}`, `"1.0"`, `" Yes "`, `[]`, `[ ]`, `{}`, `nul`, `{"a":1,}`, `[1,]`, `1.`, `"\u00zz"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if end, ok := SkipValue(b, 0); ok {
			if !json.Valid(b[:end]) {
				t.Fatalf("SkipValue took %q, encoding/json does not", b[:end])
			}
		} else if json.Valid(b) && WS(b, 0) == 0 && utf8.Valid(b) && len(b) < maxSkipDepth &&
			!bytes.Contains(bytes.ToLower(b), []byte(`\ud`)) {
			// Only invalid UTF-8, surrogates and deep nesting are declined.
			t.Fatalf("SkipValue refused valid %q at %d", b, end)
		}
		if s, end, ok := LaxString(b, 0); ok {
			var want String
			if err := want.UnmarshalJSON(b[:end]); err != nil || string(want) != s || !json.Valid(b[:end]) {
				t.Fatalf("LaxString(%q) = %q, UnmarshalJSON %q (%v)", b[:end], s, want, err)
			}
		}
		if l, end, ok := LaxStrings(b, 0); ok {
			var want Strings
			if err := want.UnmarshalJSON(b[:end]); err != nil || !reflect.DeepEqual([]string(want), l) {
				t.Fatalf("LaxStrings(%q) = %q, UnmarshalJSON %q (%v)", b[:end], l, want, err)
			}
		}
		if v, end, ok := LaxBool(b, 0); ok {
			var want Bool
			if err := want.UnmarshalJSON(b[:end]); err != nil || want != v {
				t.Fatalf("LaxBool(%q) = %+v, UnmarshalJSON %+v (%v)", b[:end], v, want, err)
			}
		}
	})
}

func TestReadStringDecodesLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{`"plain"`, `"a\/b"`, `"\u017c\ud83d\ude00"`, `"\"\\\b\f\n\r\t"`, `"ż"`, `""`} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		got, end, ok := ReadString([]byte(s), 0)
		if !ok || got != want || end != len(s) {
			t.Errorf("ReadString(%s) = %q, %d, %v; want %q", s, got, end, ok, want)
		}
	}
	for _, s := range []string{`"\ud83d"`, "\"\xff\"", `"\x"`, `"open`, "\"\x01\""} {
		if _, _, ok := ReadString([]byte(s), 0); ok {
			t.Errorf("ReadString(%q) took it", s)
		}
	}
}
