package events_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/events"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

// PostgreSQL stops while views arrive and starts again: every view that got
// a 204 is in the database afterwards (through the spool for those that
// arrived while it was down), billed once per win.
func TestDatabaseOutageLosesNoAcknowledgedView(t *testing.T) {
	ctx := context.Background()
	cluster := testdb.NewCluster(t)
	st, err := store.Open(ctx, cluster.URL("postgres"), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	spool, err := events.OpenSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	e := newEnv(t, st, spool)
	e.mod.DownFor = 20 * time.Millisecond
	e.mod.DBTimeout = time.Second
	const wins = 2000
	var all []store.Auction
	for i := range wins {
		all = append(all, store.Auction{ExtID: fmt.Sprintf("o%d", i), AuctionID: "a", RequestID: "0", CreativeID: "c",
			DSP: "sim", PriceMicros: 1_000_000, BURL: e.dsp.URL + "/b"})
	}
	if err := st.InsertAuctions(ctx, all); err != nil {
		t.Fatal(err)
	}

	type sent struct{ ext, cid string }
	var (
		mu      sync.Mutex
		acked   []sent
		refused int
		next    int
	)
	// Four concurrent senders, like a busy AdServer.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= wins {
					return
				}
				s := sent{fmt.Sprintf("o%d", i), cid(i)}
				resp, err := client.Get(e.srv.URL + "/view?extid=" + s.ext + "&cid=" + s.cid)
				mu.Lock()
				if err == nil && resp.StatusCode == 204 {
					acked = append(acked, s)
				} else {
					refused++
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	waitAcked := func(n int) {
		for {
			mu.Lock()
			done := len(acked) >= n || next >= wins
			mu.Unlock()
			if done {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitAcked(100)
	cluster.StopServer()
	// Keep views coming until a good number went to the spool.
	for {
		s, _ := spool.State()
		mu.Lock()
		done := next >= wins
		mu.Unlock()
		if s.Bytes > 100*60 || done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := cluster.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Replay whatever the spool holds (the replayer does this every second).
	deadline := time.Now().Add(30 * time.Second)
	replayed := 0
	for {
		n, err := e.mod.ReplayOnce(ctx)
		replayed += n
		s, _ := spool.State()
		if err == nil && s.Segments == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %+v, %v", s, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if replayed == 0 {
		t.Fatal("no view went through the spool: the outage was not exercised")
	}
	missing := 0
	for _, s := range acked {
		var n int
		st.Pool.QueryRow(ctx, "SELECT count(*) FROM events WHERE ext_id = $1 AND case_id = $2 AND type = 'view' AND value > 0", s.ext, s.cid).Scan(&n)
		if n != 1 {
			missing++
		}
	}
	var inDB, notices int
	st.Pool.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&inDB)
	st.Pool.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&notices)
	t.Logf("views: %d acknowledged, %d refused (503), %d replayed from the spool, %d in the database, %d burls enqueued",
		len(acked), refused, replayed, inDB, notices)
	if missing > 0 {
		t.Fatalf("%d acknowledged views are not in the database", missing)
	}
	if inDB != len(acked) || notices != inDB {
		t.Fatalf("database has %d views and %d notices for %d acknowledged views", inDB, notices, len(acked))
	}
	if len(acked) < wins*9/10 {
		t.Fatalf("only %d of %d views acknowledged: the spool should have taken the outage", len(acked), wins)
	}
}
