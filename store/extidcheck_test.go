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
