package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/bench"
)

// benchRun runs `bridge bench` with the test binary standing in for the
// bridge and returns its exit code and output.
func benchRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv(asBridge, "1")
	var stdout, stderr strings.Builder
	code := run(context.Background(), append([]string{"bench"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// A short mixed run: every system measured, the numbers agree with each
// other and the books check passes. No figure is compared with a speed.
func TestBenchSmokeJSON(t *testing.T) {
	code, out, errs := benchRun(t, "--duration", "1s", "--rounds", "1", "--warmup", "200ms", "--concurrency", "2",
		"--mode", "mixed", "--view-fraction", "0.5", "--click-fraction", "0.5", "--slots", "1-2", "--dsps", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var r bench.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.OK || !r.Books.OK || len(r.Problems) != 0 {
		t.Fatalf("not OK: %q\n%s", r.Problems, errs)
	}
	if r.PostgreSQL["fsync"] != "on" || r.PostgreSQL["synchronous_commit"] != "on" {
		t.Fatalf("PostgreSQL not durable: %v", r.PostgreSQL)
	}
	var names []string
	for _, s := range r.Systems {
		names = append(names, string(s.System))
	}
	if strings.Join(names, " ") != "bridge floor direct" {
		t.Fatalf("systems %v", names)
	}
	br := r.Systems[0]
	switch {
	case br.Auctions == 0 || br.Wins == 0:
		t.Fatalf("nothing measured: %+v", br)
	case br.Slots < br.Auctions || br.Slots > 2*br.Auctions:
		t.Errorf("%d slots in %d calls of 1-2 slots", br.Slots, br.Auctions)
	case br.Wins+br.NoBids > br.Slots || br.Wins > br.Slots:
		t.Errorf("%d wins (%d no-bids) for %d slots", br.Wins, br.NoBids, br.Slots)
	case br.Views > br.Wins || br.Clicks > br.Views:
		t.Errorf("%d views %d clicks of %d wins", br.Views, br.Clicks, br.Wins)
	case br.Bid.N != uint64(br.Auctions) || br.View.N != uint64(br.Views+br.ViewErrors):
		t.Errorf("latencies recorded %d/%d for %d calls, %d views", br.Bid.N, br.View.N, br.Auctions, br.Views)
	case !(br.Bid.P50MS <= br.Bid.P99MS && br.Bid.P99MS <= br.Bid.P999MS && br.Bid.P999MS <= br.Bid.MaxMS):
		t.Errorf("quantiles out of order: %+v", br.Bid)
	case br.CPUServerUS == nil || *br.CPUServerUS <= 0 || br.CPUPostgresUS == nil || *br.CPUPostgresUS <= 0 || br.CPUBenchUS <= 0:
		t.Errorf("CPU per auction missing: server %v postgres %v bench %v", br.CPUServerUS, br.CPUPostgresUS, br.CPUBenchUS)
	}
	// The books cover the warm-up too, so they hold at least what was measured.
	b := r.Books
	if b.WinsAnswered < br.Wins || b.ViewsAnswered < br.Views || b.ClicksAnswered < br.Clicks || b.NoticesDelivered != b.ViewsAnswered || b.WinsStored < b.WinsAnswered {
		t.Errorf("books %+v against measured %+v", b, br)
	}
	floor, direct := r.Systems[1], r.Systems[2]
	if floor.Auctions == 0 || floor.CPUServerUS == nil || floor.Views == 0 || direct.Auctions == 0 || direct.CPUServerUS != nil {
		t.Errorf("floor %+v\ndirect %+v", floor, direct)
	}
	if r.Ratios == nil || r.Ratios.Rate <= 0 || len(r.Ratios.RoundRates) != 1 {
		t.Errorf("ratios %+v", r.Ratios)
	}
	if rss := r.BridgeRSSMB; rss.Start <= 0 || rss.Max < rss.Start || rss.Max < rss.End {
		t.Errorf("bridge RSS %+v", rss)
	}
}

// Open loop: each system gets exactly the calls of its schedule (2 rounds
// of 500 ms at 150/s: 75 a round), however fast the machine answers them,
// and every latency is recorded from its scheduled start.
func TestBenchOpenLoop(t *testing.T) {
	code, out, errs := benchRun(t, "--rate", "150", "--duration", "1s", "--rounds", "2", "--warmup", "200ms", "--concurrency", "4", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var r bench.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.OK || r.Rate != 150 || len(r.Systems) != 3 {
		t.Fatalf("not OK or not open loop: rate %g, %d systems, problems %q\n%s", r.Rate, len(r.Systems), r.Problems, errs)
	}
	for _, s := range r.Systems {
		if s.Auctions != 150 || s.Bid.N != 150 || s.Errors != 0 {
			t.Errorf("%s: %d auctions, %d latencies, %d errors; want 150, 150, 0", s.System, s.Auctions, s.Bid.N, s.Errors)
		}
	}
	// --chaos measures closed loop only, and says so.
	if code, _, errs := benchRun(t, "--chaos", "--rate", "10", "--duration", "10s"); code == 0 || !strings.Contains(errs, "--rate") {
		t.Errorf("--chaos --rate: exit %d\n%s", code, errs)
	}
}

// Views mode, as a table: the rows of views are there, the /bid rows are
// not (the wins are made first and not measured), and the books pass; with
// --pprof the progress names the bridge's pprof address.
func TestBenchViewsTable(t *testing.T) {
	code, out, errs := benchRun(t, "--duration", "600ms", "--rounds", "2", "--warmup", "200ms", "--concurrency", "2", "--mode", "views", "--pprof")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// --pprof says where to profile the bridge.
	if !strings.Contains(errs, "bridge pprof http://127.0.0.1:") {
		t.Errorf("progress lacks the pprof address:\n%s", errs)
	}
	for _, want := range []string{"mode views", "fsync=on synchronous_commit=on", "BRIDGE", "FLOOR", "BRIDGE/FLOOR", "views/s", "/view p50 ms",
		"/view p99 ms", "/view p99.9 ms", "CPU µs/view: server", "CPU µs/view: PostgreSQL", "CPU µs/view: bench", "host steal ms/s", "bridge RSS:", "bridge/floor rate by round:", "books: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"auctions/s", "/bid p50", "DIRECT"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("views table shows %q:\n%s", unwanted, out)
		}
	}
}

// A view the bridge answered 204 for and that is then missing from the
// database fails the run: exit 1 and the books say why.
func TestBenchFailsWhenAViewIsLost(t *testing.T) {
	lost := false
	benchHook = func(o *bench.Options) {
		o.BeforeCheck = func(ctx context.Context, db *pgx.Conn) error {
			var id int64
			if err := db.QueryRow(ctx, `SELECT id FROM events WHERE type = 'view' AND value > 0 ORDER BY id LIMIT 1`).Scan(&id); err != nil {
				return err
			}
			if _, err := db.Exec(ctx, `UPDATE outbox SET event_id = NULL WHERE event_id = $1`, id); err != nil {
				return err
			}
			_, err := db.Exec(ctx, `DELETE FROM events WHERE id = $1`, id)
			lost = err == nil
			return err
		}
	}
	defer func() { benchHook = nil }()
	code, out, errs := benchRun(t, "--duration", "500ms", "--rounds", "1", "--warmup", "200ms", "--concurrency", "2", "--mode", "views", "--no-floor")
	// A failed run keeps its logs for a look; this one was meant to fail.
	if _, rest, ok := strings.Cut(out, "logs and config kept in "); ok {
		dir, _, _ := strings.Cut(rest, "\n")
		if strings.HasPrefix(dir, os.TempDir()) {
			os.RemoveAll(dir)
		}
	}
	if !lost {
		t.Fatalf("the view was not deleted; exit %d\n%s\n%s", code, out, errs)
	}
	if code != 1 {
		t.Fatalf("exit %d after losing a view, want 1\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"books: FAILED", "1 view(s) answered 204 but not stored", "1 viewed win(s) not billed exactly once", "logs and config kept in"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "problem(s)") {
		t.Errorf("stderr does not say the run failed:\n%s", errs)
	}
}
