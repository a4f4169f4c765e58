package store

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// FuzzArrays: every list of strings survives the text form of arrays and
// PostgreSQL's array syntax (pgx's parser of the text format) unchanged,
// as a text[] column (one element per row) and as the text[] of one row
// inside a column of array literals: commas, braces, quotes, backslashes,
// spaces and the word NULL are plain text inside an element. Elements are
// the input cut at "|"; strings PostgreSQL cannot store in text are
// skipped.
func FuzzArrays(f *testing.F) {
	for _, s := range []string{"", "a", "IAB1|IAB2", `a"b|c\d`, "{x}|,|NULL| lead|trail |", "é|\t|\n", `\"|"\`} {
		f.Add(s)
	}
	m := pgtype.NewMap()
	parse := func(t *testing.T, lit string) []string {
		var out []string
		if err := m.Scan(pgtype.TextArrayOID, pgtype.TextFormatCode, []byte(lit), &out); err != nil {
			t.Fatalf("%s does not parse: %v", lit, err)
		}
		return out
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Skip("PostgreSQL text holds neither invalid UTF-8 nor NUL")
		}
		var in []string
		if s != "" {
			in = strings.Split(s, "|")
		}
		var a arrays
		a.texts(len(in), func(i int) string { return in[i] })
		a.textArrays(1, func(int) []string { return in })
		p := a.params()
		if got := parse(t, p[0].(string)); !slices.Equal(got, in) && len(got)+len(in) > 0 {
			t.Fatalf("column %q became %s, read back as %q", in, p[0], got)
		}
		outer := parse(t, p[1].(string))
		if len(outer) != 1 {
			t.Fatalf("one row's array became %s, read back as %d rows", p[1], len(outer))
		}
		if got := parse(t, outer[0]); !slices.Equal(got, in) && len(got)+len(in) > 0 {
			t.Fatalf("row %q became %s, read back as %q", in, p[1], got)
		}
	})
}

// The other columns' text forms, as PostgreSQL reads them: an empty batch
// is an empty array, a zero time and a nil bytea are NULL.
func TestArraysText(t *testing.T) {
	var a arrays
	a.ints(3, func(i int) int64 { return []int64{-1, 0, 9223372036854775807}[i] })
	a.ints(0, nil)
	a.bools(2, func(i int) bool { return i == 1 })
	a.times(2, func(i int) time.Time {
		return []time.Time{{}, time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))}[i]
	})
	a.byteas(2, func(i int) []byte { return [][]byte{nil, {0, 0xab}}[i] })
	a.intArrays(2, func(i int) []int32 { return [][]int32{nil, {2, -6}}[i] })
	want := []any{`{-1,0,9223372036854775807}`, `{}`, `{f,t}`, `{NULL,"2024-05-01T11:00:00.123456Z"}`, `{NULL,"\\x00ab"}`, `{"{}","{2,-6}"}`}
	if got := a.params(); !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
