// Package table prints the operator commands' output: right-aligned text
// columns for people, CSV or indented JSON for scripts.
package table

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Table is a header, rows and an optional footer (a total line, shown in
// text output only).
type Table struct {
	Header []string
	Rows   [][]string
	Footer []string
}

// New returns a table with the given column names.
func New(header ...string) *Table { return &Table{Header: header} }

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write prints the table as aligned text ("table" or "") or as CSV ("csv").
func (t *Table) Write(w io.Writer, format string) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(t.Header)
		cw.WriteAll(t.Rows)
		return cw.Error()
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		line := func(cells []string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
		line(t.Header)
		for _, r := range t.Rows {
			line(r)
		}
		if t.Footer != nil {
			line(t.Footer)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("unknown format %q (want table, csv or json)", format)
	}
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Int formats an integer cell.
func Int[T ~int | ~int32 | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }
