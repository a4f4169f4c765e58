// Package deploy holds what an operator imports next to the bridge: the
// Grafana dashboard (grafana/bridge.json) and the Prometheus alerting rules
// (prometheus/alerts.yml). Its test keeps both loadable and naming only
// metrics the bridge really exports.
package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/service"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// bridgeRegistry is the registry of a bridge built by service.New, the way
// `bridge serve` builds it (with a DSP, so per-DSP collectors exist).
func bridgeRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	body := "listen: 127.0.0.1:0\nmetrics: {listen: 127.0.0.1:0}\nadshares: {address: 0001-00000003-AB0C}\n" +
		"money: {ads_usd: \"0.05\"}\ndatabase: {url: \"" + testdb.URL(t) + "\"}\n" +
		"dsps:\n  - {name: sim, endpoint: \"http://127.0.0.1:9/openrtb2/auction\"}\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc.Metrics.Registry
}

// exported reports whether reg can export a metric family named name. It
// asks the registry itself, through its own consistency rule: a collector
// describing a name that is already registered is refused. Vectors that
// have no series yet count too (a scrape would not show them).
func exported(reg *prometheus.Registry, name string) bool {
	probe := probeCollector{prometheus.NewDesc(name, "deploy test probe", nil, nil)}
	if err := reg.Register(probe); err != nil {
		var already prometheus.AlreadyRegisteredError
		return !errors.As(err, &already) || already.ExistingCollector != probe
	}
	reg.Unregister(probe)
	return false
}

type probeCollector struct{ d *prometheus.Desc }

func (p probeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.d }
func (p probeCollector) Collect(chan<- prometheus.Metric)    {}

var metricName = regexp.MustCompile(`\bbridge_[a-z0-9_]+\b`)

// referenced lists the bridge metric families a PromQL expression uses: a
// histogram's _bucket, _sum and _count series name the histogram.
func referenced(reg *prometheus.Registry, expr string) (found, missing []string) {
	for _, n := range metricName.FindAllString(expr, -1) {
		name := n
		if !exported(reg, name) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(n, suffix); ok && exported(reg, base) {
					name = base
				}
			}
		}
		if exported(reg, name) {
			found = append(found, name)
		} else {
			missing = append(missing, n)
		}
	}
	return found, missing
}

func balanced(expr string) bool {
	depth := map[rune]int{}
	pairs := map[rune]rune{')': '(', '}': '{', ']': '['}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '{' || r == '[':
			depth[r]++
		case pairs[r] != 0:
			depth[pairs[r]]--
			if depth[pairs[r]] < 0 {
				return false
			}
		}
	}
	return depth['('] == 0 && depth['{'] == 0 && depth['['] == 0 && !inString
}

func TestAlertsLoadAndUseRealMetrics(t *testing.T) {
	reg := bridgeRegistry(t)
	raw, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("alerts.yml does not load: %v", err)
	}
	alerts := map[string]bool{}
	used := map[string]bool{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v needs alert, expr, labels.severity and annotations.summary", r)
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			if !balanced(r.Expr) {
				t.Errorf("%s: unbalanced expression %q", r.Alert, r.Expr)
			}
			found, missing := referenced(reg, r.Expr)
			for _, m := range missing {
				t.Errorf("%s uses %s, which the bridge does not export", r.Alert, m)
			}
			if len(found) == 0 {
				t.Errorf("%s uses no bridge metric: %q", r.Alert, r.Expr)
			}
			for _, f := range found {
				used[f] = true
			}
		}
	}
	// The alerts the operator needs (issue 16), by what they watch.
	for _, m := range []string{"bridge_dsp_breaker_state", "bridge_outbox_oldest_pending_age_seconds", "bridge_ads_rate_state",
		"bridge_bid_duration_seconds", "bridge_auction_tmax_seconds", "bridge_payment_reports_overdue_seconds", "bridge_outbox_notices"} {
		if !used[m] {
			t.Errorf("no alert watches %s", m)
		}
	}
}

func TestDashboardLoadsAndUsesRealMetrics(t *testing.T) {
	reg := bridgeRegistry(t)
	raw, err := os.ReadFile("grafana/bridge.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title, UID string
		Panels     []struct {
			Title, Type string
			Datasource  map[string]string
			Targets     []struct {
				Expr, RefID string
			}
		}
		Templating struct {
			List []struct {
				Name, Type, Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("bridge.json does not load: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Error("the dashboard needs a title and a uid (Grafana imports by uid)")
	}
	exprs := map[string]string{}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			exprs["variable "+v.Name] = v.Definition
		}
	}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || p.Datasource["uid"] != "${datasource}" {
			t.Errorf("panel %q needs targets on the ${datasource} variable", p.Title)
		}
		for _, tg := range p.Targets {
			exprs[p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	used := map[string]bool{}
	for where, e := range exprs {
		if !balanced(e) {
			t.Errorf("%s: unbalanced expression %q", where, e)
		}
		found, missing := referenced(reg, e)
		for _, m := range missing {
			t.Errorf("%s uses %s, which the bridge does not export", where, m)
		}
		for _, f := range found {
			used[f] = true
		}
	}
	// The panels the operator needs (issue 16), by what they show.
	for _, m := range []string{"bridge_auctions_total", "bridge_bid_duration_seconds", "bridge_dsp_bids_total", "bridge_auction_wins_total",
		"bridge_dsp_nonbids_total", "bridge_dsp_breaker_state", "bridge_outbox_notices", "bridge_outbox_oldest_pending_age_seconds",
		"bridge_billed_spend_nano_usd_total", "bridge_payment_report_last_value_clicks", "bridge_ads_rate_nano_usd"} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("the dashboard uses %d metrics: %s", len(names), strings.Join(names, " "))
}

// The probe itself: it must tell a real metric from a made-up one, or the
// tests above prove nothing.
func TestExportedTellsRealFromMadeUp(t *testing.T) {
	reg := bridgeRegistry(t)
	for name, want := range map[string]bool{"bridge_auctions_total": true, "bridge_dsp_nonbids_total": true,
		"bridge_ads_rate_state": true, "bridge_no_such_metric": false, "bridge_auctions": false} {
		if got := exported(reg, name); got != want {
			t.Errorf("exported(%s) = %v, want %v", name, got, want)
		}
	}
	if _, missing := referenced(reg, `rate(bridge_bid_duration_seconds_bucket[5m]) + bridge_bid_duration_seconds_wrong`); len(missing) != 1 {
		t.Errorf("missing = %v, want only the made-up one", missing)
	}
}
