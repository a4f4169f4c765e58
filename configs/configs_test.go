// Package configs holds the shipped configuration files; its tests keep them
// and docker-compose.yml honest without a Docker engine.
package configs

import (
	"context"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/outbound"
)

func TestExampleConfigIsValidAndDocumentsEveryKey(t *testing.T) {
	cfg, warnings, err := config.Load("bridge.example.yaml")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if len(warnings) > 0 {
		t.Fatalf("example config has unknown keys: %v", warnings)
	}
	if len(cfg.DSPs) == 0 || len(cfg.Inventory.Campaigns) == 0 {
		t.Fatal("example config should show a DSP and a campaign")
	}
	raw, _ := os.ReadFile("bridge.example.yaml")
	text := string(raw)
	for _, key := range config.Keys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !regexp.MustCompile(`(?m)^\s*(- )?` + regexp.QuoteMeta(leaf) + `:`).MatchString(text) {
			t.Errorf("bridge.example.yaml does not document %s", key)
		}
	}
}

func TestComposeFile(t *testing.T) {
	ctx := context.Background()
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "docker-compose.yml")},
		cli.WithWorkingDirectory(".."), cli.WithName("dsp-bridge"))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("compose file does not load: %v", err)
	}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvName(k)] = true
	}
	bridge, ok := project.Services["bridge"]
	if !ok {
		t.Fatal("no bridge service")
	}
	for name := range bridge.Environment {
		if strings.HasPrefix(name, config.EnvPrefix) && !known[name] {
			t.Errorf("bridge service sets %s, which the bridge does not read", name)
		}
	}
	if dep, ok := bridge.DependsOn["postgres"]; !ok || dep.Condition != "service_healthy" {
		t.Errorf("bridge must wait for a healthy postgres, depends_on = %+v", bridge.DependsOn)
	}
	if pg := project.Services["postgres"]; pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 {
		t.Error("postgres service has no healthcheck")
	}
	if _, ok := project.Volumes["pgdata"]; !ok {
		t.Error("no named volume for PostgreSQL data")
	}
	for _, p := range bridge.Ports {
		if p.HostIP != "127.0.0.1" {
			t.Errorf("bridge port %s is published on %q, want loopback only", p.Published, p.HostIP)
		}
	}

	// The config the bridge container reads must pass `bridge config check`
	// with the container's environment.
	var cfgPath string
	for i, arg := range bridge.Command {
		if arg == "--config" && i+1 < len(bridge.Command) {
			cfgPath = bridge.Command[i+1]
		}
	}
	if !strings.HasPrefix(cfgPath, "/etc/bridge/") {
		t.Fatalf("bridge command %v does not name a config under /etc/bridge", bridge.Command)
	}
	for name, val := range bridge.Environment {
		if val != nil {
			t.Setenv(name, *val)
		}
	}
	cfg, _, err := config.Load(strings.TrimPrefix(cfgPath, "/etc/bridge/"))
	if err != nil {
		t.Fatalf("%s does not pass config check: %v", cfgPath, err)
	}
	// Every DSP the mounted config names must be a service of the project,
	// and its notices must be allowed to reach the project's network (a
	// private range the outbound URL policy refuses otherwise).
	var subnets []netip.Prefix
	if n, ok := project.Networks["default"]; ok {
		for _, c := range n.Ipam.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				subnets = append(subnets, p)
			}
		}
	}
	if len(subnets) == 0 {
		t.Fatal("the compose file pins no subnet for its default network")
	}
	for _, d := range cfg.DSPs {
		u, err := url.Parse(d.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := project.Services[u.Hostname()]; !ok {
			t.Errorf("dsp %s points at %s, which is not a compose service", d.Name, u.Host)
		}
		allow, err := outbound.ParseNetworks(d.AllowNetworks)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subnets {
			covered := false
			for _, a := range allow {
				covered = covered || (a.Bits() <= s.Bits() && a.Contains(s.Addr()))
			}
			if !covered {
				t.Errorf("dsp %s: allow_networks %v does not cover the compose network %s", d.Name, d.AllowNetworks, s)
			}
		}
	}
}
