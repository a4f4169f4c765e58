package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// savedBatch is a batch of wins with everything a save writes: a public
// creative, held win notices and more wins than one INSERT takes, all at
// one created_at (so that another transaction can collide with one).
func savedBatch(prefix string, n int, at time.Time) []store.Auction {
	sum := sha256.Sum256([]byte(prefix))
	c := &store.Creative{SHA256: sum[:], ContentType: "image/png", Bytes: []byte("png of " + prefix)}
	wins := make([]store.Auction, n)
	for i := range wins {
		wins[i] = store.Auction{ExtID: prefix + strconv.Itoa(i), AuctionID: "a", RequestID: strconv.Itoa(i), CreativeID: "c",
			DSP: "d", PriceMicros: int64(1000 + i), CreatedAt: at, Cat: []string{"IAB" + strconv.Itoa(i)}, Attr: []int32{int32(i)},
			ImpressionURLs: []string{"http://127.0.0.1:1/p" + strconv.Itoa(i)}}
		switch i % 3 {
		case 0:
			wins[i].Delivery, wins[i].ServeToken, wins[i].CreativeSHA256, wins[i].Creative = "public", "tok-"+prefix+strconv.Itoa(i), c.SHA256, c
		case 1:
			wins[i].Delivery, wins[i].WinNotice, wins[i].WinNoticeDue = "inline", "http://127.0.0.1:1/n"+strconv.Itoa(i), at.Add(time.Minute)
		}
	}
	return wins
}

// storedOf counts the rows a save of wins wrote: the wins, their held
// notices and their creative.
func storedOf(t *testing.T, st *store.Store, wins []store.Auction) (auctions, notices, creatives int) {
	t.Helper()
	ids := make([]string, len(wins))
	for i, w := range wins {
		ids[i] = w.ExtID
	}
	err := st.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM auctions WHERE ext_id = ANY($1)),
		(SELECT count(*) FROM outbox WHERE ext_id = ANY($1)),
		(SELECT count(*) FROM creatives WHERE sha256 = $2)`, ids, wins[0].CreativeSHA256).Scan(&auctions, &notices, &creatives)
	if err != nil {
		t.Fatal(err)
	}
	return auctions, notices, creatives
}

// blockOn inserts, in a transaction left open, the win row that collides
// with win: a save of win waits on it until the transaction ends.
func blockOn(t *testing.T, st *store.Store, win store.Auction) pgx.Tx {
	t.Helper()
	tx, err := st.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, price_micros, created_at)
		VALUES ($1, 'other', '0', 'c', 'd', 1, $2)`, win.ExtID, win.CreatedAt); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitBlocked waits until a backend waits on a lock while storing wins:
// the save is then under way, with its first statements executed.
func waitBlocked(t *testing.T, st *store.Store, saved <-chan error) {
	t.Helper()
	for {
		var n int
		if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO auctions%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		select {
		case err := <-saved:
			t.Fatalf("the save ended (%v) before it waited on the colliding row", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// A save that fails after its creative, its first wins and its held
// notices were written (a win collides with a row another transaction
// commits meanwhile) leaves none of them: no win without its notice or
// creative, and no notice or creative of a win that was not stored.
func TestFailedWinSaveLeavesNothingPartial(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	at := time.Now().UTC().Truncate(time.Second)
	wins := savedBatch("fail", 40, at) // 3 INSERTs of wins
	tx := blockOn(t, st, wins[35])
	saved := make(chan error, 1)
	go func() { saved <- st.InsertAuctions(ctx, wins) }()
	waitBlocked(t, st, saved)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	err := <-saved
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("save: %v, want a unique violation", err)
	}
	if a, n, c := storedOf(t, st, wins[:35]); a != 0 || n != 0 || c != 0 {
		t.Fatalf("after the failed save: %d wins, %d notices, %d creatives stored; want none", a, n, c)
	}
	// The same wins, saved again without the collision, are stored whole.
	if err := st.InsertAuctions(ctx, wins[:35]); err != nil {
		t.Fatal(err)
	}
	if a, n, c := storedOf(t, st, wins[:35]); a != 35 || n != 12 || c != 1 {
		t.Fatalf("after the retry: %d wins, %d notices, %d creatives; want 35, 12, 1", a, n, c)
	}
	got, err := st.GetAuction(ctx, wins[34].ExtID)
	if err != nil || got.Cat[0] != "IAB34" || got.Attr[0] != 34 || got.ImpressionURLs[0] != "http://127.0.0.1:1/p34" || !got.CreatedAt.Equal(at) {
		t.Fatalf("win 34 read back: %+v, %v", got, err)
	}
}

// A save whose context ends while it waits (the auction's deadline passes)
// reports an error, and the database ends with all of the batch or none
// of it, never a part: the pipeline is one transaction, committed by the
// server or not at all.
func TestCancelledWinSaveIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	at := time.Now().UTC().Truncate(time.Second)
	wins := savedBatch("cancel", 20, at)
	other := store.Auction{ExtID: wins[19].ExtID + "x", CreatedAt: at}
	// The collision is on a row outside the batch: when the blocker rolls
	// back, the cancelled save may still go on to commit.
	wins = append(wins, store.Auction{ExtID: other.ExtID, AuctionID: "a", RequestID: "x", CreativeID: "c", DSP: "d", PriceMicros: 5, CreatedAt: at})
	tx := blockOn(t, st, other)
	saveCtx, cancel := context.WithCancel(ctx)
	saved := make(chan error, 1)
	go func() { saved <- st.InsertAuctions(saveCtx, wins) }()
	waitBlocked(t, st, saved)
	cancel()
	if err := <-saved; err == nil {
		t.Fatal("a cancelled save reported success")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Wait for the server to finish the statement it was running.
	for {
		var n int
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state <> 'idle' AND query LIKE 'INSERT INTO %'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	a, n, c := storedOf(t, st, wins)
	if got := fmt.Sprint(a, n, c); got != "0 0 0" && got != "21 7 1" {
		t.Fatalf("after the cancelled save: %d wins, %d notices, %d creatives; want all (21 7 1) or none", a, n, c)
	}
	t.Logf("the cancelled save left %d wins, %d notices, %d creatives", a, n, c)
}

// The connections reserved for wins keep generic plans of the win INSERTs
// (plan_cache_mode auto), and such a plan locks only the partition a win
// goes to, not every partition of auctions: a generic plan of a query that
// reads a partitioned table would lock them all.
func TestWinInsertsLockOnlyTheirPartition(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenWith(ctx, testdb.URL(t), store.Options{MaxConns: 4, WinConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, table := range store.PartitionedTables {
		if _, err := st.EnsurePartitions(ctx, table, day0, day0.AddDate(0, 0, 30), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := st.WinPool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	at := day0.AddDate(0, 0, 12).Add(time.Hour)
	for i := range 8 { // a generic plan is tried after five custom ones
		q := store.WinBatch([]store.Auction{{ExtID: "g" + strconv.Itoa(i), AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "d",
			PriceMicros: 5, CreatedAt: at, WinNotice: "http://127.0.0.1:1/n", WinNoticeDue: at}}).QueuedQueries
		for _, s := range q {
			if _, err := tx.Exec(ctx, s.SQL, s.Arguments...); err != nil {
				t.Fatal(err)
			}
		}
	}
	var generic int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0)::bigint FROM pg_prepared_statements
		WHERE statement LIKE 'INSERT INTO auctions%'`).Scan(&generic); err != nil {
		t.Fatal(err)
	}
	if generic == 0 {
		t.Fatal("the win INSERT never ran a generic plan on the reserved connections")
	}
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE l.pid = pg_backend_pid() AND c.relkind = 'r' AND (c.relname LIKE 'auctions%' OR c.relname LIKE 'outbox%')
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"auctions_p20240513_0000", "outbox_p20240513_0000"}; fmt.Sprint(locked) != fmt.Sprint(want) {
		t.Fatalf("partitions locked by %d generic-plan win inserts: %v, want only %v", generic, locked, want)
	}
}

// TestInsertAuctionsReleasingCommitsBothOrNeither: the releases of earlier
// answers ride on a batch of wins; a batch that fails (a bad row) releases
// nothing, and releasing again afterwards still works.
func TestInsertAuctionsReleasingCommitsBothOrNeither(t *testing.T) {
	ctx := context.Background()
	st := testdb.New(t)
	hold := time.Now().Add(time.Hour)
	held := func(id string) store.Auction {
		return store.Auction{ExtID: id, AuctionID: "a", RequestID: "0", CreativeID: "c", DSP: "alpha",
			PriceMicros: 1, BidPrice: "1", Delivery: "inline", WinNotice: "http://127.0.0.1:1/win?" + id, WinNoticeDue: hold}
	}
	if err := st.InsertAuctions(ctx, []store.Auction{held("r1"), held("r2")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claim := func() int {
		claimed, _, err := st.ClaimNotices(ctx, store.Claim{Now: now, Lease: time.Minute, Since: now.Add(-time.Hour), Token: "T", Quota: map[string]int{"alpha": 10}})
		if err != nil {
			t.Fatal(err)
		}
		return len(claimed)
	}
	bad := held("bad")
	bad.PriceMicros = 0 // breaks the table's CHECK: the whole pipeline fails
	if _, err := st.InsertAuctionsReleasing(ctx, []store.Auction{held("n0"), bad}, []string{"r1"}, now); err == nil {
		t.Fatal("a batch with a bad row was stored")
	}
	if n := claim(); n != 0 {
		t.Fatalf("a failed batch released %d notices", n)
	}
	n, err := st.InsertAuctionsReleasing(ctx, []store.Auction{held("n1"), held("n2")}, []string{"r1", "r2", "n0"}, now)
	if err != nil || n != 2 {
		t.Fatalf("released %d, %v; want r1 and r2", n, err)
	}
	for _, id := range []string{"n1", "n2"} {
		if ns, _ := st.NoticesOf(ctx, id); len(ns) != 1 {
			t.Fatalf("%s notices: %+v", id, ns)
		}
	}
	if ns, _ := st.NoticesOf(ctx, "n0"); len(ns) != 0 {
		t.Fatalf("the failed batch stored n0's notice: %+v", ns)
	}
	if n := claim(); n != 2 {
		t.Fatalf("claimed %d released notices, want 2 (the new wins' stay held)", n)
	}
}
