package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/internal/testdb"
)

// In views mode the floor answers a view 204 only once its row is
// committed: concurrent views share commits, a repeat is stored once, a
// view without its keys is refused, and one the database did not store is
// answered 503, never 204.
func TestFloorViewsDurable(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	fv, err := OpenFloorViews(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer fv.Close()
	p := NewProxy([]string{"http://127.0.0.1:1"}, time.Second)
	p.Views = fv
	srv := httptest.NewServer(p)
	defer srv.Close()
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	count := func() int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(ctx, CountFloorViewsSQL).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	get := func(query string) int {
		resp, err := http.Get(srv.URL + "/view?" + query)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	const n = 300
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = get(fmt.Sprintf("iid=x&extid=floor%d&cid=%032x", i, i))
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusNoContent {
			t.Fatalf("view %d: status %d, want 204", i, c)
		}
	}
	if got := count(); got != n {
		t.Fatalf("%d rows after %d views answered 204", got, n)
	}
	if c := get("extid=floor0&cid=" + fmt.Sprintf("%032x", 0)); c != http.StatusNoContent || count() != n {
		t.Fatalf("a repeated view: status %d, %d rows; want 204 and still %d", c, count(), n)
	}
	if c := get("extid=floor0"); c != http.StatusBadRequest {
		t.Fatalf("a view without cid: status %d, want 400", c)
	}
	if _, err := db.Exec(ctx, `DROP TABLE bench.floor_views`); err != nil {
		t.Fatal(err)
	}
	if c := get("extid=lost&cid=1"); c != http.StatusServiceUnavailable {
		t.Fatalf("a view the database refused: status %d, want 503", c)
	}
}
