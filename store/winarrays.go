package store

import (
	"encoding/hex"
	"strconv"
	"time"
)

// arrays writes the parameters of a batch INSERT ... SELECT unnest(...):
// one PostgreSQL array per column, in its text form, all in one buffer.
// pgx sends a Go string in text format whatever the parameter's type, so a
// batch of any size costs one allocation for all its columns and no
// per-element boxing (pgx's binary encoding of []string or []int64 boxes
// every element: three times the allocations of the multi-row VALUES it
// replaces, for a batch of one win). The server parses each literal
// (array_in) as it would any array parameter.
type arrays struct {
	buf     []byte
	ends    []int
	scratch []byte
}

// newArrays is an arrays for cols columns of about size bytes in all.
func newArrays(size, cols int) arrays {
	return arrays{buf: make([]byte, 0, size), ends: make([]int, 0, cols)}
}

// end closes the current column.
func (a *arrays) end() { a.buf = append(a.buf, '}'); a.ends = append(a.ends, len(a.buf)) }

// sep starts the column or an element after the first.
func (a *arrays) sep(i int) {
	if i == 0 {
		a.buf = append(a.buf, '{')
	} else {
		a.buf = append(a.buf, ',')
	}
}

// quoted appends s as a double-quoted array element: inside quotes,
// commas, braces, spaces and the word NULL are plain text, and only the
// double quote and the backslash need a backslash.
func quoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// texts is a text[] column of n rows.
func (a *arrays) texts(n int, v func(int) string) {
	for i := range n {
		a.sep(i)
		a.buf = quoted(a.buf, v(i))
	}
	a.emptyIf(n)
	a.end()
}

// ints is an integer column (bigint[], int[], smallint[]) of n rows.
func (a *arrays) ints(n int, v func(int) int64) {
	for i := range n {
		a.sep(i)
		a.buf = strconv.AppendInt(a.buf, v(i), 10)
	}
	a.emptyIf(n)
	a.end()
}

// bools is a boolean[] column of n rows.
func (a *arrays) bools(n int, v func(int) bool) {
	for i := range n {
		a.sep(i)
		if v(i) {
			a.buf = append(a.buf, 't')
		} else {
			a.buf = append(a.buf, 'f')
		}
	}
	a.emptyIf(n)
	a.end()
}

// times is a timestamptz[] column of n rows, NULL for a zero time; to the
// microsecond, truncated, as pgx's binary encoding stores it.
func (a *arrays) times(n int, v func(int) time.Time) {
	for i := range n {
		a.sep(i)
		if t := v(i); t.IsZero() {
			a.buf = append(a.buf, "NULL"...)
		} else {
			a.buf = append(a.buf, '"')
			a.buf = t.UTC().Truncate(time.Microsecond).AppendFormat(a.buf, "2006-01-02T15:04:05.999999Z")
			a.buf = append(a.buf, '"')
		}
	}
	a.emptyIf(n)
	a.end()
}

// byteas is a bytea[] column of n rows, NULL for a nil slice: hex input
// (\x...), its backslash escaped inside the quotes.
func (a *arrays) byteas(n int, v func(int) []byte) {
	for i := range n {
		a.sep(i)
		if b := v(i); b == nil {
			a.buf = append(a.buf, "NULL"...)
		} else {
			a.buf = append(a.buf, `"\\x`...)
			a.buf = hex.AppendEncode(a.buf, b)
			a.buf = append(a.buf, '"')
		}
	}
	a.emptyIf(n)
	a.end()
}

// textArrays is a text[] column of n rows whose elements are the literals
// of each row's own text[] (cast per row: unnest would flatten an array of
// arrays).
func (a *arrays) textArrays(n int, v func(int) []string) {
	for i := range n {
		a.sep(i)
		a.scratch = append(a.scratch[:0], '{')
		for j, e := range v(i) {
			if j > 0 {
				a.scratch = append(a.scratch, ',')
			}
			a.scratch = quoted(a.scratch, e)
		}
		a.scratch = append(a.scratch, '}')
		a.buf = quoted(a.buf, string(a.scratch))
	}
	a.emptyIf(n)
	a.end()
}

// intArrays is a text[] column of n rows whose elements are the literals
// of each row's own int[].
func (a *arrays) intArrays(n int, v func(int) []int32) {
	for i := range n {
		a.sep(i)
		a.buf = append(a.buf, "\"{"...)
		for j, e := range v(i) {
			if j > 0 {
				a.buf = append(a.buf, ',')
			}
			a.buf = strconv.AppendInt(a.buf, int64(e), 10)
		}
		a.buf = append(a.buf, "}\""...)
	}
	a.emptyIf(n)
	a.end()
}

// emptyIf opens the empty array of a column without rows.
func (a *arrays) emptyIf(n int) {
	if n == 0 {
		a.buf = append(a.buf, '{')
	}
}

// params are the columns written, in order, as query arguments.
func (a *arrays) params() []any {
	s := string(a.buf)
	out := make([]any, len(a.ends))
	start := 0
	for i, e := range a.ends {
		out[i] = s[start:e]
		start = e
	}
	return out
}
