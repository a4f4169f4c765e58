package bench

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/internal/testdb"
)

const (
	caseA = "0123456789abcdef0123456789abcdef"
	caseB = "fedcba9876543210fedcba9876543210"
)

// booksDB is a migrated database holding what a bridge writes for two wins,
// w1 viewed (billed, burl delivered) and clicked, and w2 not viewed.
func booksDB(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	db, err := pgx.Connect(ctx, testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(ctx) })
	_, err = db.Exec(ctx, `
		INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, bid_id, price_micros, burl) VALUES
			('w1', 'a1', '0', 'b0c0000000000000000000000000a001', 'dsp1', 'b1', 1000000, 'http://dsp/bill'),
			('w2', 'a2', '0', 'b0c0000000000000000000000000a001', 'dsp1', 'b2', 1000000, 'http://dsp/bill');
		INSERT INTO events (id, ext_id, case_id, type, price_micros, rate_nanos, value) VALUES
			(1, 'w1', '`+caseA+`', 'view', 1000000, 50000000, 2000000000),
			(2, 'w1', '`+caseA+`', 'click', 1000000, 50000000, 0);
		SELECT setval('events_id_seq', 2);
		INSERT INTO outbox (ext_id, event_id, dsp, kind, url, status) VALUES ('w1', 1, 'dsp1', 'burl', 'http://dsp/bill', 'delivered')`)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func cleanLedger() ledger {
	return ledger{
		answered: []string{"w1", "w2"},
		viewed:   []EventRec{{"w1", caseA}},
		clicked:  []EventRec{{"w1", caseA}},
		bills:    map[billKey]bool{{"dsp1", "a1", "b1"}: true},
	}
}

// The books check finds every way of losing something, and nothing in a
// clean run.
func TestBooksCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sql     string        // what goes wrong in the database
		ledger  func(*ledger) // or in what the bench was told
		drained bool
		want    []string // problems, by their start
	}{
		{name: "clean", drained: true},
		{name: "lost view", drained: true, sql: `DELETE FROM outbox WHERE event_id = 1; DELETE FROM events WHERE id = 1`,
			want: []string{"1 view(s) answered 204 but not stored", "1 viewed win(s) not billed exactly once", "1 billed view(s) without a burl"}},
		{name: "answered win not stored", drained: true, ledger: func(l *ledger) { l.answered = append(l.answered, "w9") },
			want: []string{"1 answered win(s) not in the database"}},
		{name: "ext_id answered twice", drained: true, ledger: func(l *ledger) { l.answered = append(l.answered, "w1") },
			want: []string{"1 ext_id(s) answered more than once"}},
		{name: "billed twice", drained: true,
			sql:  `INSERT INTO events (ext_id, case_id, type, price_micros, rate_nanos, value) VALUES ('w1', '` + caseB + `', 'view', 1000000, 50000000, 2000000000)`,
			want: []string{"1 viewed win(s) not billed exactly once"}},
		{name: "lost click", drained: true, sql: `DELETE FROM events WHERE id = 2`, want: []string{"1 click(s) answered but not stored"}},
		{name: "notice pending", drained: true, sql: `UPDATE outbox SET status = 'pending'`,
			want: []string{"1 notice(s) still pending"}},
		{name: "notice undelivered", drained: true, sql: `UPDATE outbox SET status = 'undelivered'`,
			want: []string{"1 notice(s) undelivered"}},
		{name: "bill never reached the DSP", drained: true, ledger: func(l *ledger) { l.bills = map[billKey]bool{} },
			want: []string{"1 burl(s) marked delivered that the DSP never received"}},
		{name: "not drained", drained: false, want: []string{"the outbox or the spool did not drain"}},
		{name: "no burl expected", drained: true, sql: `DELETE FROM outbox`, ledger: func(l *ledger) { l.noBURL = true }},
		{name: "no burl expected, view lost", drained: true, sql: `DELETE FROM outbox; DELETE FROM events WHERE id = 1`, ledger: func(l *ledger) { l.noBURL = true },
			want: []string{"1 view(s) answered 204 but not stored", "1 viewed win(s) not billed exactly once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := booksDB(t)
			if tc.sql != "" {
				if _, err := db.Exec(ctx, tc.sql); err != nil {
					t.Fatal(err)
				}
			}
			l := cleanLedger()
			if tc.ledger != nil {
				tc.ledger(&l)
			}
			b, err := checkBooks(ctx, db, l, tc.drained)
			if err != nil {
				t.Fatal(err)
			}
			if b.OK != (len(tc.want) == 0) || len(b.Problems) != len(tc.want) {
				t.Fatalf("ok %t, problems %q; want %q", b.OK, b.Problems, tc.want)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(b.Problems, func(p string) bool { return strings.HasPrefix(p, w) }) {
					t.Errorf("problems %q lack %q", b.Problems, w)
				}
			}
			if tc.name == "clean" && (b.WinsAnswered != 2 || b.WinsStored != 2 || b.ViewsAnswered != 1 || b.NoticesDelivered != 1 || b.ClicksAnswered != 1) {
				t.Errorf("counts %+v", b)
			}
			if !strings.HasPrefix(b.Summary(), map[bool]string{true: "OK", false: "FAILED"}[b.OK]) {
				t.Errorf("summary %q", b.Summary())
			}
		})
	}
}
