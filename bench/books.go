package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Books is the run's own reconciliation: what the bridge said yes to
// against what PostgreSQL holds and what the DSPs were told. Any problem
// means something was lost, and the run fails.
type Books struct {
	OK                 bool     `json:"ok"`
	WinsAnswered       int64    `json:"wins_answered"`         // ext_ids in accepted /bid answers
	WinsMissing        int64    `json:"wins_missing"`          // ... not in auctions
	WinsDuplicated     int64    `json:"wins_duplicated"`       // ext_ids answered more than once
	WinsStored         int64    `json:"wins_stored"`           // rows in auctions (answers cut off late count here only)
	ViewsAnswered      int64    `json:"views_answered"`        // views answered 204
	ViewsMissing       int64    `json:"views_missing"`         // ... whose (ext_id, case_id) view is not stored
	ViewsNotBilledOnce int64    `json:"views_not_billed_once"` // ... whose win is not billed exactly once
	ClicksAnswered     int64    `json:"clicks_answered"`
	ClicksMissing      int64    `json:"clicks_missing"`
	NoticesDelivered   int64    `json:"notices_delivered"`   // burls of the answered views, delivered
	NoticesMissing     int64    `json:"notices_missing"`     // answered views without a burl in the outbox
	NoticesPending     int64    `json:"notices_pending"`     // still pending after the drain wait (whole outbox)
	NoticesUndelivered int64    `json:"notices_undelivered"` // given up (whole outbox)
	BillsNotReceived   int64    `json:"bills_not_received"`  // delivered per the database, never seen by the DSP
	Drained            bool     `json:"drained"`             // outbox and spool emptied within the wait
	Problems           []string `json:"problems"`
}

// billKey identifies one burl call a DSP received: its auction and bid id.
type billKey struct{ dsp, auction, bid string }

// ledger is what the bench was told during the run.
type ledger struct {
	answered []string   // ext_ids of accepted wins
	viewed   []EventRec // views answered 204
	clicked  []EventRec // clicks answered 200 or 204
	bills    map[billKey]bool
	noBURL   bool // the DSPs sent no burl: a billed view enqueues no notice
}

func copyRows(ctx context.Context, db *pgx.Conn, table, ddl string, cols []string, n int, row func(i int) []any) error {
	if _, err := db.Exec(ctx, "DROP TABLE IF EXISTS "+table+"; CREATE TEMP TABLE "+table+" ("+ddl+")"); err != nil {
		return err
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
	return err
}

// checkBooks reconciles l against the database the bridge wrote.
func checkBooks(ctx context.Context, db *pgx.Conn, l ledger, drained bool) (Books, error) {
	b := Books{WinsAnswered: int64(len(l.answered)), ViewsAnswered: int64(len(l.viewed)), ClicksAnswered: int64(len(l.clicked)), Drained: drained}
	if err := copyRows(ctx, db, "bench_wins", "ext_id text", []string{"ext_id"}, len(l.answered),
		func(i int) []any { return []any{l.answered[i]} }); err != nil {
		return b, fmt.Errorf("bench: books: %w", err)
	}
	ev := func(list []EventRec) func(int) []any {
		return func(i int) []any { return []any{list[i].ExtID, list[i].CaseID} }
	}
	for table, list := range map[string][]EventRec{"bench_views": l.viewed, "bench_clicks": l.clicked} {
		if err := copyRows(ctx, db, table, "ext_id text, case_id text", []string{"ext_id", "case_id"}, len(list), ev(list)); err != nil {
			return b, fmt.Errorf("bench: books: %w", err)
		}
	}
	queries := []struct {
		sql  string
		dest []any
	}{
		{`SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM auctions a WHERE a.ext_id = w.ext_id)),
			count(*) - count(DISTINCT ext_id), (SELECT count(*) FROM auctions) FROM bench_wins w`,
			[]any{&b.WinsMissing, &b.WinsDuplicated, &b.WinsStored}},
		{`SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM events e
				WHERE e.ext_id = v.ext_id AND e.case_id = v.case_id AND e.type = 'view')),
			count(*) FILTER (WHERE (SELECT count(*) FROM events e
				WHERE e.ext_id = v.ext_id AND e.type = 'view' AND e.value > 0) <> 1)
			FROM bench_views v`,
			[]any{&b.ViewsMissing, &b.ViewsNotBilledOnce}},
		{`SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM events e
				WHERE e.ext_id = c.ext_id AND e.case_id = c.case_id AND e.type = 'click')) FROM bench_clicks c`,
			[]any{&b.ClicksMissing}},
		{`SELECT count(*) FILTER (WHERE o.id IS NULL), count(*) FILTER (WHERE o.status = 'delivered')
			FROM bench_views v LEFT JOIN outbox o ON o.ext_id = v.ext_id AND o.kind = 'burl'`,
			[]any{&b.NoticesMissing, &b.NoticesDelivered}},
		{`SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'undelivered') FROM outbox`,
			[]any{&b.NoticesPending, &b.NoticesUndelivered}},
	}
	for _, q := range queries {
		if err := db.QueryRow(ctx, q.sql).Scan(q.dest...); err != nil {
			return b, fmt.Errorf("bench: books: %w", err)
		}
	}
	// Every burl the database calls delivered reached its DSP.
	rows, err := db.Query(ctx, `SELECT a.dsp, a.auction_id, a.bid_id FROM bench_views v
		JOIN outbox o ON o.ext_id = v.ext_id AND o.kind = 'burl' AND o.status = 'delivered'
		JOIN auctions a ON a.ext_id = v.ext_id`)
	if err != nil {
		return b, fmt.Errorf("bench: books: %w", err)
	}
	var k billKey
	_, err = pgx.ForEachRow(rows, []any{&k.dsp, &k.auction, &k.bid}, func() error {
		if !l.bills[k] {
			b.BillsNotReceived++
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("bench: books: %w", err)
	}
	if l.noBURL {
		b.NoticesMissing = 0 // none expected
	}
	b.Problems = b.problems()
	b.OK = len(b.Problems) == 0
	return b, nil
}

func (b *Books) problems() []string {
	var p []string
	add := func(n int64, format string) {
		if n > 0 {
			p = append(p, fmt.Sprintf(format, n))
		}
	}
	add(b.WinsMissing, "%d answered win(s) not in the database")
	add(b.WinsDuplicated, "%d ext_id(s) answered more than once")
	add(b.ViewsMissing, "%d view(s) answered 204 but not stored")
	add(b.ViewsNotBilledOnce, "%d viewed win(s) not billed exactly once")
	add(b.ClicksMissing, "%d click(s) answered but not stored")
	add(b.NoticesMissing, "%d billed view(s) without a burl notice")
	add(b.NoticesPending, "%d notice(s) still pending after the wait")
	add(b.NoticesUndelivered, "%d notice(s) undelivered")
	add(b.BillsNotReceived, "%d burl(s) marked delivered that the DSP never received")
	if !b.Drained {
		p = append(p, "the outbox or the spool did not drain in time")
	}
	return p
}

// Summary is the books in one line.
func (b Books) Summary() string {
	head := "OK"
	if !b.OK {
		head = "FAILED: " + strings.Join(b.Problems, "; ")
	}
	return fmt.Sprintf("%s (%d wins answered, all looked up among %d stored; %d views answered 204, %d clicks; %d burls delivered)",
		head, b.WinsAnswered, b.WinsStored, b.ViewsAnswered, b.ClicksAnswered, b.NoticesDelivered)
}
