package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// Migration 011 made the check on auctions.ext_id cheaper, not looser: the
// database still stores exactly the ext_ids of 1 to 64 characters of
// [A-Za-z0-9_-], in every partition.
func TestExtIDCheckKeepsItsRule(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	cases := []struct {
		extID string
		ok    bool
	}{
		{"a", true},
		{strings.Repeat("Az09_-", 10) + "abcd", true}, // 64
		{store.NewExtID(time.Now()), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"a b", false},
		{"a/b", false},
		{"a.b", false},
		{"é", false},
		{"a\n", false},
		{"\na", false},
	}
	for _, c := range cases {
		err := st.InsertAuctions(ctx, []store.Auction{{ExtID: c.extID, AuctionID: "r", RequestID: "0", CreativeID: "c", DSP: "d", PriceMicros: 1}})
		var pe *pgconn.PgError
		switch {
		case c.ok && err != nil:
			t.Errorf("ext_id %q refused: %v", c.extID, err)
		case !c.ok && err == nil:
			t.Errorf("ext_id %q stored, want the check to refuse it", c.extID)
		case !c.ok && !(errors.As(err, &pe) && pe.ConstraintName == "auctions_ext_id_check"):
			t.Errorf("ext_id %q: %v, want a violation of auctions_ext_id_check", c.extID, err)
		}
	}
}

// Migration 012 did the same for events.case_id: still exactly 32
// characters of [0-9a-f], in every partition.
func TestCaseIDCheckKeepsItsRule(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	ok := strings.Repeat("0123456789abcdef", 2)
	cases := []struct {
		caseID string
		ok     bool
	}{
		{ok, true},
		{strings.Repeat("f", 32), true},
		{"", false},
		{ok[:31], false},
		{ok + "0", false},
		{strings.ToUpper(ok), false},
		{ok[:31] + "g", false},
		{ok[:31] + "\n", false},
		{"\n" + ok[:31], false},
		{ok[:30] + "é", false}, // 32 bytes, 31 characters
	}
	for i, c := range cases {
		// A time of its own per row, in different partitions: the rule holds
		// in each.
		at := time.Now().UTC().Add(-time.Duration(i) * 24 * time.Hour)
		_, err := st.Pool.Exec(ctx, `INSERT INTO events (ext_id, case_id, type, created_at) VALUES ($1, $2, 'view', $3)`,
			"e"+strings.Repeat("x", i), c.caseID, at)
		var pe *pgconn.PgError
		switch {
		case c.ok && err != nil:
			t.Errorf("case_id %q refused: %v", c.caseID, err)
		case !c.ok && err == nil:
			t.Errorf("case_id %q stored, want the check to refuse it", c.caseID)
		case !c.ok && !(errors.As(err, &pe) && pe.ConstraintName == "events_case_id_check"):
			t.Errorf("case_id %q: %v, want a violation of events_case_id_check", c.caseID, err)
		}
	}
}
