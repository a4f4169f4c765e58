package outbox_test

import (
	"context"
	"github.com/adshares/dsp-bridge/internal/testlog"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testclock"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/outbox"
)

// A delivered notice is counted, and logged only at debug: at info the
// log has no line per delivery (CONTRIBUTING: one info line per event),
// while a refusal is still a warning.
func TestDeliveriesLogAtDebugFailuresWarn(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			ctx := context.Background()
			st := testdb.New(t)
			c := testclock.New(t0)
			ok, refusing := newEndpoint(t), newEndpoint(t, 404)
			enqueue(t, st, "ok1", "sim", ok.URL+"/burl/ok1", t0)
			enqueue(t, st, "no1", "one", refusing.URL+"/burl/no1", t0)
			var logs testlog.Buffer
			w, err := outbox.New(st, testOutbox, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: level})))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.SetDSPs([]config.DSP{{Name: "sim", AllowNetworks: []string{"127.0.0.0/8"}}, {Name: "one", AllowNetworks: []string{"127.0.0.0/8"}}}); err != nil {
				t.Fatal(err)
			}
			w.Now = c.Now
			var mu sync.Mutex
			counted := map[string]int{}
			w.Observe = func(dsp, kind, result string) {
				mu.Lock()
				counted[dsp+" "+result]++
				mu.Unlock()
			}
			if n, err := w.Step(ctx); n != 2 || err != nil {
				t.Fatalf("Step = %d, %v; want 2 claimed", n, err)
			}
			out := logs.String()
			delivered := strings.Count(out, `"msg":"outbox: notice delivered"`)
			if want := map[slog.Level]int{slog.LevelInfo: 0, slog.LevelDebug: 1}[level]; delivered != want {
				t.Errorf("%d delivered lines at %s, want %d:\n%s", delivered, level, want, out)
			}
			if !strings.Contains(out, `"level":"WARN","msg":"outbox: notice refused"`) {
				t.Errorf("no warning for the refused notice:\n%s", out)
			}
			if counted["sim delivered"] != 1 || counted["one refused"] != 1 {
				t.Errorf("counted %v, want one delivered, one refused", counted)
			}
		})
	}
}
