package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/rates"
	"github.com/adshares/dsp-bridge/ratesim"
)

func feedConfig(t *testing.T, dbURL, rateURL, adsUSD string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	body := "listen: 127.0.0.1:0\nmetrics:\n  listen: 127.0.0.1:0\nadshares:\n  address: 0001-00000003-AB0C\n" +
		"money:\n  rate_url: " + rateURL + "\n  rate_refresh: 1s\n  rate_max_age: 1h\n"
	if adsUSD != "" {
		body += "  ads_usd: \"" + adsUSD + "\"\n"
	}
	body += "database:\n  url: " + dbURL + "\n"
	os.WriteFile(p, []byte(body), 0o600)
	cfg, _, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A failing rate feed is a readiness warning, never unreadiness: views keep
// being valued at the last fetched rate.
func TestReadyzWarnsAboutAFailingRateFeed(t *testing.T) {
	fake := ratesim.New("0.0512")
	defer fake.Close()
	svc, stop := start(t, feedConfig(t, testdb.URL(t), fake.URL(), ""))
	defer stop()
	code, body := readyz(t, svc.Addr())
	if r, _ := body["ads_rate"].(map[string]any); code != 200 || r["state"] != "fresh" || r["rate_usd"] != "0.0512" {
		t.Fatalf("readyz with the feed up = %d %v", code, body)
	}
	fake.Fail(503)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body = readyz(t, svc.Addr())
		r, _ := body["ads_rate"].(map[string]any)
		if r["state"] == "failing" {
			if code != 200 || r["ok"] != true || r["warning"] == nil || r["rate_usd"] != "0.0512" {
				t.Fatalf("readyz with the feed failing = %d %v", code, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed's failure never showed: %v", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if svc.Rates.Nanos() != 51_200_000 {
		t.Fatalf("rate in use = %d", svc.Rates.Nanos())
	}
}

// A fresh database, a feed that does not answer and no money.ads_usd: the
// bridge refuses to start rather than run without a price for views.
func TestNoRateAnywhereStopsTheStart(t *testing.T) {
	fake := ratesim.New("0.0512")
	defer fake.Close()
	fake.Fail(503)
	_, err := New(context.Background(), feedConfig(t, testdb.URL(t), fake.URL(), ""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, rates.ErrNoRate) {
		t.Fatalf("New = %v, want rates.ErrNoRate", err)
	}
	svc, err := New(context.Background(), feedConfig(t, testdb.URL(t), fake.URL(), "0.05"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("with money.ads_usd as the starting rate: %v", err)
	}
	defer svc.Close()
	if st := svc.Rates.Status(); st.Nanos != 50_000_000 || st.State != rates.StateStale {
		t.Fatalf("starting rate = %+v", st)
	}
}
