package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/internal/testdb"
	"github.com/adshares/dsp-bridge/store"
)

func TestRetentionCommands(t *testing.T) {
	ctx := context.Background()
	url := testdb.NewCluster(t).URL("postgres")
	st, err := store.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BRIDGE_CONFIG", "")
	t.Setenv("BRIDGE_DATABASE_URL", url)
	t.Setenv("BRIDGE_ADSHARES_ADDRESS", "0001-00000003-AB0C")
	t.Setenv("BRIDGE_MONEY_ADS_USD", "0.05")

	code, out, errOut := runCmd(t, "retention", "run")
	if code != 0 || !strings.Contains(out, "created ") || !strings.Contains(out, "dropped 0") {
		t.Fatalf("retention run: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCmd(t, "retention", "status")
	t.Logf("bridge retention status:\n%s", out)
	if code != 0 || !strings.Contains(out, "auctions_default") || !strings.Contains(out, "NEXT DROP") {
		t.Fatalf("retention status: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "retention", "status", "--format", "json")
	var st2 struct {
		Wins   string `json:"retention_wins"`
		Tables []struct {
			Table      string `json:"table"`
			Partitions int    `json:"partitions"`
		} `json:"tables"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st2) != nil || st2.Wins != "168h0m0s" || len(st2.Tables) != 3 || st2.Tables[1].Partitions < 3 {
		t.Fatalf("retention status json: %d\n%s", code, out)
	}
	if code, _, _ = runCmd(t, "retention", "status", "--format", "xml"); code != 2 {
		t.Fatalf("bad format: exit %d", code)
	}
	t.Setenv("BRIDGE_DATABASE_URL", "")
	if code, _, errOut = runCmd(t, "retention", "status"); code != 1 || !strings.Contains(errOut, "database.url") {
		t.Fatalf("without a database: %d %s", code, errOut)
	}
}
