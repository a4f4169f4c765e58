package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/store"
)

// nodeTypes lists every node type of a plan, and the indexes it reads.
func (n planNode) nodeTypes(out map[string]bool) {
	out[n.NodeType] = true
	if n.Index != "" {
		out["index "+n.Index] = true
	}
	for _, c := range n.Plans {
		c.nodeTypes(out)
	}
}

// The statements that name partitions (partcache.go) run on generic plans,
// made once per connection under namedPlanSettings and kept: each must
// read only the partitions it names (and pg_inherits, for the look-up's
// check of the catalog), each by an index and joined row by row, both with
// 30 days of analyzed history and on a fresh day's partitions that have no
// statistics yet (when a connection often makes its plan). A plan with a
// sequential scan or a hash join would read the whole partition at every
// execution as the day fills it.
func TestNamedPartitionStatementsGenericPlans(t *testing.T) {
	for _, db := range []struct {
		name string
		st   func(*testing.T) *store.Store
		day  time.Time
	}{
		{"30 days of history", historyDB, day(3)},
		{"a new day", partitionedDB, noon.Truncate(24 * time.Hour)},
	} {
		t.Run(db.name, func(t *testing.T) {
			namedStatementPlans(t, db.st(t), db.day)
		})
	}
}

func namedStatementPlans(t *testing.T, st *store.Store, d time.Time) {
	ctx := context.Background()
	events := []string{store.PartitionName("events", d.AddDate(0, 0, -1)), store.PartitionName("events", d), "events_default"}
	tests := []struct {
		name  string
		sql   string
		types string
		reads []string
		key   string // the index every index scan must use ("": any)
	}{
		{"/view: the wins of a group in their partition", fmt.Sprintf(store.SQLGetAuctionsIn, store.PartitionName("auctions", d)),
			"text[]", []string{store.PartitionName("auctions", d)}, store.PartitionName("auctions", d) + "_pkey"},
		{"/view: a group's earlier views in their partitions", fmt.Sprintf(store.SQLPriorViewsIn, store.PriorViewsFrom(events)),
			"text[], text[], timestamptz[], timestamptz[], timestamptz, timestamptz, int8[]", append([]string{"pg_inherits"}, events...), ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := st.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			stmt := fmt.Sprintf("named%d", i)
			for _, sql := range append(store.NamedPlanSettings, "PREPARE "+stmt+"("+tc.types+") AS "+tc.sql) {
				if _, err := tx.Exec(ctx, sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			defer st.Pool.Exec(ctx, "DEALLOCATE "+stmt)
			nulls := strings.TrimSuffix(strings.Repeat("NULL, ", strings.Count(tc.types, ",")+1), ", ")
			var raw string
			if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE "+stmt+"("+nulls+")").Scan(&raw); err != nil {
				t.Fatal(err)
			}
			var plans []struct {
				Plan planNode `json:"Plan"`
			}
			if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
				t.Fatalf("explain output: %v\n%s", err, raw)
			}
			got, kinds := map[string]string{}, map[string]bool{}
			plans[0].Plan.scans(got)
			plans[0].Plan.nodeTypes(kinds)
			allowed := map[string]bool{}
			for _, r := range tc.reads {
				allowed[r] = true
			}
			for rel, how := range got {
				if !allowed[rel] {
					t.Errorf("reads %s (%s): not a relation it names", rel, how)
				}
				if how == "Seq Scan" && rel != "pg_inherits" {
					t.Errorf("reads %s by a sequential scan\n%s", rel, raw)
				}
			}
			for k := range kinds {
				if idx, ok := strings.CutPrefix(k, "index "); ok && tc.key != "" && idx != tc.key {
					t.Errorf("reads by index %s, want each row by its key %s\n%s", idx, tc.key, raw)
				}
			}
			for _, join := range []string{"Hash Join", "Merge Join"} {
				if kinds[join] {
					t.Errorf("joins by %s\n%s", join, raw)
				}
			}
			if len(got) == 0 {
				t.Errorf("plan reads nothing:\n%s", raw)
			}
		})
	}
}
