package retention

import (
	"fmt"
	"io"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/internal/table"
)

// Status is what `bridge retention status` prints.
type Status struct {
	Now        time.Time `json:"now"`
	Wins       string    `json:"retention_wins"`
	Events     string    `json:"retention_events"`
	Interval   string    `json:"partition_interval"`
	Partitions []Verdict `json:"partitions"`
	Tables     []Total   `json:"tables"`
}

// Total sums one table's partitions.
type Total struct {
	Table      string `json:"table"`
	Partitions int    `json:"partitions"` // without the default one
	Rows       int64  `json:"rows_estimate"`
	Bytes      int64  `json:"bytes"`
	// Until is where the partitions created ahead end (inserts up to then
	// have their partition).
	Until *time.Time `json:"until,omitempty"`
	// NextDrop is the earliest DropAt of a partition still there.
	NextDrop *time.Time `json:"next_drop,omitempty"`
}

// NewStatus sums a plan per table.
func (k *Keeper) NewStatus(plan []Verdict, now time.Time) Status {
	st := Status{Now: now, Wins: k.Policy.Wins.String(), Events: k.Policy.Events.String(),
		Interval: k.Policy.Interval.String(), Partitions: plan}
	byTable := map[string]*Total{}
	var order []string
	for _, v := range plan {
		t := byTable[v.Table]
		if t == nil {
			t = &Total{Table: v.Table}
			byTable[v.Table] = t
			order = append(order, v.Table)
		}
		t.Rows += v.Rows
		t.Bytes += v.Bytes
		if v.Default {
			continue
		}
		t.Partitions++
		if to := v.To; t.Until == nil || to.After(*t.Until) {
			t.Until = &to
		}
		if at := v.DropAt; t.NextDrop == nil || at.Before(*t.NextDrop) {
			t.NextDrop = &at
		}
	}
	for _, name := range order {
		st.Tables = append(st.Tables, *byTable[name])
	}
	return st
}

// WriteStatus prints the status as tables (every partition, then one line
// per table) or, with format "json", as one JSON document.
func WriteStatus(w io.Writer, st Status, format string) error {
	switch format {
	case "json":
		return table.WriteJSON(w, st)
	case "table", "":
	default:
		return fmt.Errorf("unknown format %q (want table or json)", format)
	}
	fmt.Fprintf(w, "Retention at %s: wins %s, events %s (and never inside payments.window), partitions of %s\n\n",
		ads.FormatATOM(st.Now), st.Wins, st.Events, st.Interval)
	t := table.New("TABLE", "PARTITION", "FROM", "TO", "ROWS", "SIZE", "DROP AT", "ACTION", "REASON")
	for _, v := range st.Partitions {
		from, to, dropAt := "-", "-", "never"
		if !v.Default {
			from, to, dropAt = ads.FormatATOM(v.From), ads.FormatATOM(v.To), ads.FormatATOM(v.DropAt)
		}
		t.Add(v.Table, v.Name, from, to, table.Int(v.Rows), Bytes(v.Bytes), dropAt, v.Action, v.Reason)
	}
	if err := t.Write(w, "table"); err != nil {
		return err
	}
	fmt.Fprintln(w)
	sum := table.New("TABLE", "PARTITIONS", "ROWS", "SIZE", "PARTITIONS UNTIL", "NEXT DROP")
	for _, tt := range st.Tables {
		until, next := "-", "-"
		if tt.Until != nil {
			until = ads.FormatATOM(*tt.Until)
		}
		if tt.NextDrop != nil {
			next = ads.FormatATOM(*tt.NextDrop)
		}
		sum.Add(tt.Table, table.Int(tt.Partitions), table.Int(tt.Rows), Bytes(tt.Bytes), until, next)
	}
	if err := sum.Write(w, "table"); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nROWS are the planner's estimates (exact after ANALYZE). A blocked partition is dropped once its reason is gone.")
	return nil
}

// Bytes formats a size in binary units (1.5 GiB).
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
