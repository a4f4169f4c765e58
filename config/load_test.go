package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// minimal is the least a valid config needs.
const minimal = "adshares:\n  address: 0001-00000003-AB0C\nmoney:\n  ads_usd: \"0.05\"\n"

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sample is one value for a key, as YAML (for the file) and as an
// environment variable, and how to read it back.
type sample struct {
	yaml string
	env  string
	get  func(*Config) any
	want any
}

// sampleWith are other keys a sample needs to be valid (key → value, in the
// file as top-level YAML and in the environment).
var sampleWith = map[string]map[string]string{
	"public_listen": {"public_url": "https://ads.example.org"},
}

var dspJSON = `[{"name":"alpha","endpoint":"http://127.0.0.1:9/bid","timeout":"300ms","headers":{"X-Api-Key":"k1"},"currency":"usd","dialect":"2.5","allow_networks":["127.0.0.0/8","10.1.0.0/16"],"bid_adjustment":"0.85","creative":"Markup","loss_notices":true,` +
	`"max_bids_per_imp":3,"tmax_allowance":"15ms"}]`
var campaignJSON = `[{"id":"5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50","budget":7,"creatives":[{"id":"9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b","type":"image","mime":"image/png","size":"300x250"}]}]`

// samples must name every key of Config: TestEveryKeyFromFileAndEnv fails
// for a key added without one.
var samples = map[string]sample{
	"listen":                             {`"127.0.0.1:8099"`, "127.0.0.1:8099", func(c *Config) any { return c.Listen }, "127.0.0.1:8099"},
	"base_url":                           {`"http://localhost:8099"`, "http://localhost:8099", func(c *Config) any { return c.BaseURL }, "http://localhost:8099"},
	"allow_public_listen":                {`true`, "true", func(c *Config) any { return c.AllowPublicListen }, true},
	"public_url":                         {`"https://ads.example.org"`, "https://ads.example.org", func(c *Config) any { return c.PublicURL }, "https://ads.example.org"},
	"public_listen":                      {`"0.0.0.0:8080"`, "0.0.0.0:8080", func(c *Config) any { return c.PublicListen }, "0.0.0.0:8080"},
	"log.level":                          {`debug`, "debug", func(c *Config) any { return c.Log.Level }, "debug"},
	"log.payloads":                       {`true`, "true", func(c *Config) any { return c.Log.Payloads }, true},
	"log.buffer":                         {`4096`, "4096", func(c *Config) any { return c.Log.Buffer }, 4096},
	"log.flush_interval":                 {`50ms`, "50ms", func(c *Config) any { return c.Log.FlushInterval }, 50 * time.Millisecond},
	"server.max_body_bytes":              {`4096`, "4096", func(c *Config) any { return c.Server.MaxBodyBytes }, int64(4096)},
	"server.read_timeout":                {`3s`, "3s", func(c *Config) any { return c.Server.ReadTimeout }, 3 * time.Second},
	"server.write_timeout":               {`40s`, "40s", func(c *Config) any { return c.Server.WriteTimeout }, 40 * time.Second},
	"server.shutdown_timeout":            {`7s`, "7s", func(c *Config) any { return c.Server.ShutdownTimeout }, 7 * time.Second},
	"database.url":                       {`"postgres://u:p@127.0.0.1:5/db"`, "postgres://u:p@127.0.0.1:5/db", func(c *Config) any { return c.Database.URL }, "postgres://u:p@127.0.0.1:5/db"},
	"database.max_conns":                 {`9`, "9", func(c *Config) any { return c.Database.MaxConns }, int32(9)},
	"database.win_conns":                 {`2`, "2", func(c *Config) any { return c.Database.WinConns }, int32(2)},
	"database.win_writers":               {`3`, "3", func(c *Config) any { return c.Database.WinWriters }, 3},
	"database.win_commit_delay":          {`2ms`, "2ms", func(c *Config) any { return c.Database.WinCommitDelay }, 2 * time.Millisecond},
	"adshares.address":                   {`0001-00000005-CBCA`, "0001-00000005-CBCA", func(c *Config) any { return c.Adshares.Address }, "0001-00000005-CBCA"},
	"adserver.address":                   {`0001-00000005-CBCA`, "0001-00000005-CBCA", func(c *Config) any { return c.AdServer.Address }, "0001-00000005-CBCA"},
	"adserver.public_key":                {`"d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737"`, "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737", func(c *Config) any { return c.AdServer.PublicKey }, "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737"},
	"adserver.clock_skew":                {`45s`, "45s", func(c *Config) any { return c.AdServer.ClockSkew }, 45 * time.Second},
	"auction.tmax":                       {`750ms`, "750ms", func(c *Config) any { return c.Auction.TMax }, 750 * time.Millisecond},
	"auction.max_concurrent":             {`33`, "33", func(c *Config) any { return c.Auction.MaxConcurrent }, 33},
	"auction.bidfloor":                   {`"0.25"`, "0.25", func(c *Config) any { return c.Auction.BidFloor }, "0.25"},
	"auction.breaker.enabled":            {`false`, "false", func(c *Config) any { return c.Auction.Breaker.IsEnabled() }, false},
	"auction.breaker.failures":           {`11`, "11", func(c *Config) any { return c.Auction.Breaker.Failures }, uint32(11)},
	"auction.breaker.open_for":           {`2s`, "2s", func(c *Config) any { return c.Auction.Breaker.OpenFor }, 2 * time.Second},
	"auction.breaker.half_open_requests": {`3`, "3", func(c *Config) any { return c.Auction.Breaker.HalfOpenRequests }, uint32(3)},
	"auction.breaker.failure_rate":       {`0.4`, "0.4", func(c *Config) any { return c.Auction.Breaker.Rate() }, 0.4},
	"auction.breaker.window":             {`30`, "30", func(c *Config) any { return c.Auction.Breaker.Window }, 30},
	"metrics.allow_public":               {`true`, "true", func(c *Config) any { return c.Metrics.AllowPublic }, true},
	"runtime.gogc":                       {`250`, "250", func(c *Config) any { return c.Runtime.GOGC }, 250},
	"dsps": {dspJSON, dspJSON, func(c *Config) any {
		if len(c.DSPs) != 1 {
			return len(c.DSPs)
		}
		d := c.DSPs[0]
		return d.Name + " " + d.Endpoint + " " + d.Timeout.String() + " " + headerValue(d.Headers, "X-Api-Key") + " " + d.Currency + " " + d.Dialect +
			" " + strings.Join(d.AllowNetworks, ",") + " " + strconv.FormatInt(d.BidAdjustmentPPM(), 10) + " " + d.Creative + " " + strconv.FormatBool(d.LossNotices) +
			fmt.Sprintf(" bids=%d allowance=%s", d.MaxBidsPerImp, d.TMaxAllowance)
	}, "alpha http://127.0.0.1:9/bid 300ms k1 USD 2.5 127.0.0.0/8,10.1.0.0/16 850000 markup true bids=3 allowance=15ms"},
	"money.ads_usd":                {`0.25`, "0.25", func(c *Config) any { return c.Money.AdsUSDNanos() }, int64(250_000_000)},
	"money.rates":                  {`{"EUR": "1.1"}`, `{"EUR": "1.1"}`, func(c *Config) any { return c.Money.Rates["EUR"] }, "1.1"},
	"money.rate_url":               {`"http://127.0.0.1:8010/"`, "http://127.0.0.1:8010/", func(c *Config) any { return c.Money.RateURL }, "http://127.0.0.1:8010"},
	"money.rate_refresh":           {`2m`, "2m", func(c *Config) any { return c.Money.RateRefresh }, 2 * time.Minute},
	"money.rate_max_age":           {`3h`, "3h", func(c *Config) any { return c.Money.RateMaxAge }, 3 * time.Hour},
	"money.fee":                    {`"0.125"`, "0.125", func(c *Config) any { return c.Money.FeePPM() }, int64(125_000)},
	"payments.period":              {`30s`, "30s", func(c *Config) any { return c.Payments.Period }, 30 * time.Second},
	"payments.settle_after":        {`5s`, "5s", func(c *Config) any { return c.Payments.SettleAfter }, 5 * time.Second},
	"payments.window":              {`48h`, "48h", func(c *Config) any { return c.Payments.Window }, 48 * time.Hour},
	"outbox.workers":               {`2`, "2", func(c *Config) any { return c.Outbox.Workers }, 2},
	"outbox.per_dsp":               {`3`, "3", func(c *Config) any { return c.Outbox.PerDSP }, 3},
	"outbox.timeout":               {`2s`, "2s", func(c *Config) any { return c.Outbox.Timeout }, 2 * time.Second},
	"outbox.max_age":               {`1h`, "1h", func(c *Config) any { return c.Outbox.MaxAge }, time.Hour},
	"outbox.backoff_base":          {`2s`, "2s", func(c *Config) any { return c.Outbox.BackoffBase }, 2 * time.Second},
	"outbox.backoff_max":           {`1m`, "1m", func(c *Config) any { return c.Outbox.BackoffMax }, time.Minute},
	"outbox.poll":                  {`100ms`, "100ms", func(c *Config) any { return c.Outbox.Poll }, 100 * time.Millisecond},
	"outbox.proxy":                 {`"http://127.0.0.1:3128"`, "http://127.0.0.1:3128", func(c *Config) any { return c.Outbox.Proxy }, "http://127.0.0.1:3128"},
	"events.spool_dir":             {`/tmp/spool`, "/tmp/spool", func(c *Config) any { return c.Events.SpoolDir }, "/tmp/spool"},
	"inventory.classifier":         {`abc`, "abc", func(c *Config) any { return c.Inventory.Classifier }, "abc"},
	"inventory.keywords":           {`{"quality": ["low"]}`, `{"quality": ["low"]}`, func(c *Config) any { return strings.Join(c.Inventory.Keywords["quality"], ",") }, "low"},
	"payments.settle_chunk":        {`1000`, "1000", func(c *Config) any { return c.Payments.SettleChunk }, 1000},
	"events.max_view_age":          {`2h`, "2h", func(c *Config) any { return c.Events.MaxViewAge }, 2 * time.Hour},
	"events.batch_size":            {`32`, "32", func(c *Config) any { return c.Events.BatchSize }, 32},
	"retention.wins":               {`72h`, "72h", func(c *Config) any { return c.Retention.Wins }, 72 * time.Hour},
	"retention.events":             {`10000h`, "10000h", func(c *Config) any { return c.Retention.Events }, 10000 * time.Hour},
	"retention.partition_interval": {`12h`, "12h", func(c *Config) any { return c.Retention.PartitionInterval }, 12 * time.Hour},
	"retention.check_interval":     {`1m`, "1m", func(c *Config) any { return c.Retention.CheckInterval }, time.Minute},
	"inventory.campaigns": {campaignJSON, campaignJSON, func(c *Config) any {
		if len(c.Inventory.Campaigns) != 1 {
			return len(c.Inventory.Campaigns)
		}
		return c.Inventory.Campaigns[0].Budget
	}, int64(7)},
	"metrics.listen":  {`"127.0.0.1:9999"`, "127.0.0.1:9999", func(c *Config) any { return c.Metrics.Listen }, "127.0.0.1:9999"},
	"metrics.pprof":   {`true`, "true", func(c *Config) any { return c.Metrics.Pprof }, true},
	"auction.imp_exp": {`1h`, "1h", func(c *Config) any { return c.Auction.ImpExp }, time.Hour},
	"supply_chain.asi": {`bridge.example.org`, "bridge.example.org", func(c *Config) any { return c.SupplyChain.ASI + " " + c.SupplyChain.SID },
		"bridge.example.org 0001-00000005-CBCA"}, // sid from adserver.address (set below)
	"supply_chain.sid":             {`pub-7`, "pub-7", func(c *Config) any { return c.SupplyChain.SID }, "pub-7"},
	"supply_chain.complete":        {`0`, "0", func(c *Config) any { return c.SupplyChain.Complete }, 0},
	"privacy.gdpr":                 {`1`, "1", func(c *Config) any { return deref(c.Privacy.GDPR) }, 1},
	"privacy.consent":              {`"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"`, "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", func(c *Config) any { return deref(c.Privacy.Consent) }, "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"},
	"privacy.us_privacy":           {`1YNN`, "1YNN", func(c *Config) any { return deref(c.Privacy.USPrivacy) }, "1YNN"},
	"privacy.gpp":                  {`DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA`, "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", func(c *Config) any { return deref(c.Privacy.GPP) }, "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"},
	"privacy.gpp_sid":              {`[2, 6]`, "[2,6]", func(c *Config) any { return c.Privacy.GPPSID }, []int{2, 6}},
	"privacy.coppa":                {`1`, "1", func(c *Config) any { return deref(c.Privacy.COPPA) }, 1},
	"blocking.presets":             {`[mopub]`, "[mopub]", func(c *Config) any { return c.Blocking.Presets }, []string{"mopub"}},
	"blocking.bcat":                {`[IAB3, iab7-39]`, "[IAB3, iab7-39]", func(c *Config) any { return c.Blocking.BCat }, []string{"IAB3", "iab7-39"}},
	"blocking.badv":                {`[spam.example]`, `["spam.example"]`, func(c *Config) any { return c.Blocking.BAdv }, []string{"spam.example"}},
	"blocking.battr":               {`[1, 8]`, "[1,8]", func(c *Config) any { return c.Blocking.BAttr }, []int{1, 8}},
	"traffic.min_human_score":      {`0.25`, "0.25", func(c *Config) any { return c.Traffic.MinHumanScore }, 0.25},
	"creatives.delivery":           {`direct`, "direct", func(c *Config) any { return c.Creatives.Delivery }, "direct"},
	"creatives.inline_max_bytes":   {`2048`, "2048", func(c *Config) any { return c.Creatives.InlineMaxBytes }, int64(2048)},
	"creatives.max_bytes":          {`4096`, "4096", func(c *Config) any { return c.Creatives.MaxBytes }, int64(4096)},
	"creatives.cache_entries":      {`7`, "7", func(c *Config) any { return c.Creatives.CacheEntries }, 7},
	"creatives.cache_bytes":        {`9999`, "9999", func(c *Config) any { return c.Creatives.CacheBytes }, int64(9999)},
	"creatives.vast_max_wrappers":  {`2`, "2", func(c *Config) any { return c.Creatives.VASTMaxWrappers }, 2},
	"creatives.fetch_timeout":      {`3s`, "3s", func(c *Config) any { return c.Creatives.FetchTimeout }, 3 * time.Second},
	"creatives.background_fetches": {`5`, "5", func(c *Config) any { return c.Creatives.BackgroundFetches }, 5},
	"creatives.failure_ttl":        {`30s`, "30s", func(c *Config) any { return c.Creatives.FailureTTL }, 30 * time.Second},
	"creatives.public_ttl":         {`48h`, "48h", func(c *Config) any { return c.Creatives.PublicTTL }, 48 * time.Hour},
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// yamlFor nests a dotted key into YAML on top of the minimal config.
func yamlFor(key, value string) string {
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts[:len(parts)-1] {
		b.WriteString(strings.Repeat("  ", i) + p + ":\n")
	}
	b.WriteString(strings.Repeat("  ", len(parts)-1) + parts[len(parts)-1] + ": " + value + "\n")
	body := b.String()
	if key == "supply_chain.asi" {
		body += "adserver:\n  address: 0001-00000005-CBCA\n"
	}
	// Avoid a second top-level adshares/money block.
	if parts[0] == "adshares" {
		return "money:\n  ads_usd: \"0.05\"\n" + body
	}
	if parts[0] == "money" {
		return "adshares:\n  address: 0001-00000003-AB0C\n" + body + "  ads_usd: \"0.05\"\n"
	}
	return minimal + body
}

func TestEveryKeyFromFileAndEnv(t *testing.T) {
	for _, key := range Keys() {
		s, ok := samples[key]
		if !ok {
			t.Errorf("key %s has no sample: add one so it is tested from file and env", key)
			continue
		}
		t.Run(key+"/file", func(t *testing.T) {
			body := yamlFor(key, s.yaml)
			if key == "money.ads_usd" {
				body = "adshares:\n  address: 0001-00000003-AB0C\nmoney:\n  ads_usd: 0.25\n"
			}
			for k, v := range sampleWith[key] {
				body += k + ": " + v + "\n" // top-level companions only
			}
			cfg, _, err := Load(writeFile(t, body))
			if err != nil {
				t.Fatalf("load: %v\n%s", err, body)
			}
			if got := s.get(cfg); !reflect.DeepEqual(got, s.want) {
				t.Errorf("from file: %s = %#v, want %#v", key, got, s.want)
			}
		})
		t.Run(key+"/env", func(t *testing.T) {
			t.Setenv(EnvName(key), s.env)
			if key == "supply_chain.asi" {
				t.Setenv("BRIDGE_ADSERVER_ADDRESS", "0001-00000005-CBCA")
			}
			for k, v := range sampleWith[key] {
				t.Setenv(EnvName(k), v)
			}
			cfg, _, err := Load(writeFile(t, minimal))
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if got := s.get(cfg); !reflect.DeepEqual(got, s.want) {
				t.Errorf("from env %s: %s = %#v, want %#v", EnvName(key), key, got, s.want)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	t.Setenv("BRIDGE_DATABASE_URL", "postgres://env@127.0.0.1/env")
	cfg, _, err := Load(writeFile(t, minimal+"database:\n  url: postgres://file@127.0.0.1/file\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != "postgres://env@127.0.0.1/env" {
		t.Fatalf("database.url = %q, want the env value", cfg.Database.URL)
	}
}

func TestRateFromPerCurrencyEnv(t *testing.T) {
	t.Setenv("BRIDGE_MONEY_RATES_KRW", "0.00075")
	cfg, _, err := Load(writeFile(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := cfg.Money.RateNanos("KRW"); !ok || n != 750_000 {
		t.Fatalf("KRW rate = %d, %v; want 750000 nano-USD", n, ok)
	}
}

func TestDefaults(t *testing.T) {
	cfg, warnings, err := Load(writeFile(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v", warnings)
	}
	if cfg.Listen != "127.0.0.1:8015" || cfg.BaseURL != "http://127.0.0.1:8015" {
		t.Errorf("listen/base_url = %s %s", cfg.Listen, cfg.BaseURL)
	}
	if cfg.Auction.TMax != time.Second {
		t.Errorf("auction.tmax = %s, want 1s", cfg.Auction.TMax)
	}
	if cfg.Runtime.GOGC != 400 {
		t.Errorf("runtime.gogc = %d, want 400", cfg.Runtime.GOGC)
	}
	if cfg.Log.Buffer != 64<<10 || cfg.Log.FlushInterval != 200*time.Millisecond {
		t.Errorf("log.buffer, log.flush_interval = %d, %s, want 65536, 200ms", cfg.Log.Buffer, cfg.Log.FlushInterval)
	}
	if !cfg.Auction.Breaker.IsEnabled() || cfg.Auction.Breaker.Failures != 5 {
		t.Errorf("breaker defaults = %+v", cfg.Auction.Breaker)
	}
	if cfg.Payments.Period != time.Hour || cfg.Payments.SettleAfter != 10*time.Minute {
		t.Errorf("payments = %+v", cfg.Payments)
	}
	if cfg.Events.BatchSize != 128 {
		t.Errorf("events.batch_size = %d, want 128", cfg.Events.BatchSize)
	}
	if cfg.Database.WinWriters != 1 || cfg.Database.WinCommitDelay != 500*time.Microsecond {
		t.Errorf("database.win_writers, win_commit_delay = %d, %s, want 1, 500µs", cfg.Database.WinWriters, cfg.Database.WinCommitDelay)
	}
	if cfg.Inventory.Classifier != "0001000000081a67" || cfg.Inventory.Keywords["quality"][0] != "high" {
		t.Errorf("inventory defaults = %+v", cfg.Inventory)
	}
}

func TestDSPDefaultsInheritBreaker(t *testing.T) {
	body := minimal + "auction:\n  breaker:\n    failures: 9\ndsps:\n  - name: a\n    endpoint: http://127.0.0.1:1/\n  - name: b\n    endpoint: http://127.0.0.1:2/\n    breaker:\n      failures: 2\n      enabled: false\n"
	cfg, _, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.DSPs[0], cfg.DSPs[1]
	if a.Breaker.Failures != 9 || !a.Breaker.IsEnabled() || a.Timeout != 800*time.Millisecond || a.Currency != "USD" || a.Dialect != "2.6" ||
		a.MaxBidsPerImp != DefaultDSPMaxBidsPerImp || a.TMaxAllowance != 20*time.Millisecond {
		t.Errorf("dsp a = %+v", a)
	}
	if b.Breaker.Failures != 2 || b.Breaker.IsEnabled() {
		t.Errorf("dsp b breaker = %+v", b.Breaker)
	}
}

func TestHeaderNamesKeepTheirCase(t *testing.T) {
	body := minimal + "dsps:\n  - name: a\n    endpoint: http://127.0.0.1:1/\n    headers:\n      X-Api-Key: secret\n"
	cfg, _, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DSPs[0].Headers) != 1 {
		t.Fatalf("headers = %v", cfg.DSPs[0].Headers)
	}
	for k, v := range cfg.DSPs[0].Headers {
		if !strings.EqualFold(k, "X-Api-Key") || v != "secret" {
			t.Fatalf("header %q=%q", k, v)
		}
	}
	red := cfg.Redacted()
	if strings.Contains(toString(red), "secret") {
		t.Fatalf("redacted config still shows the header value: %v", red)
	}
}

func TestRedactsDatabasePassword(t *testing.T) {
	cfg, _, err := Load(writeFile(t, minimal+"database:\n  url: postgres://u:hunter2@127.0.0.1/db\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := toString(cfg.Redacted())
	if strings.Contains(s, "hunter2") || !strings.Contains(s, "REDACTED") {
		t.Fatalf("redacted = %s", s)
	}
}

func toString(v any) string { return strings.ReplaceAll(strings.TrimSpace(fmtAny(v)), "\n", " ") }

func TestEveryProblemReportedAtOnce(t *testing.T) {
	body := `listen: "0.0.0.0:8015"
adshares:
  address: 0001-00000003-AB0D
money:
  ads_usd: "-1"
auction:
  tmax: 5ms
log:
  level: loud
  buffer: -1
events:
  batch_size: 0
runtime:
  gogc: 5
dsps:
  - name: "Bad Name"
    endpoint: "ftp://x"
  - name: ok
    endpoint: http://127.0.0.1:1/
    currency: EUR
inventory:
  campaigns:
    - id: NOTHEX
      landing_url: "not a url"
      creatives:
        - {id: 9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b, type: html, mime: text/html, size: big}
        - {id: 9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b, type: image, mime: video/mp4, size: 300x250}
`
	_, _, err := Load(writeFile(t, body))
	problems, ok := AsProblems(err)
	if !ok {
		t.Fatalf("err = %v, want *Problems", err)
	}
	wants := []string{
		"listen:", "adshares.address:", "money.ads_usd:", "auction.tmax:", "log.level:", "log.buffer:", "events.batch_size: 0 must be from 1 to 10000",
		"runtime.gogc: 5 must be 10..10000",
		"dsps[0] (Bad Name): name", "dsps[0] (Bad Name): endpoint", "dsps[1] (ok): currency EUR needs money.rates.EUR",
		"campaigns[0]: id", "campaigns[0]: landing_url", "creatives[0]: type", "creatives[0]: size", "creatives[1]: mime", "duplicate creative id",
	}
	joined := strings.Join(problems, "\n")
	for _, w := range wants {
		if !strings.Contains(joined, w) {
			t.Errorf("problems lack %q:\n%s", w, joined)
		}
	}
}

// Every bad allow_networks entry of every DSP, and a bad proxy, are
// reported at once.
func TestOutboundSettingsProblems(t *testing.T) {
	body := minimal + `outbox:
  proxy: "ftp://user:secret@proxy.example:3128"
dsps:
  - name: a
    endpoint: http://127.0.0.1:1/
    allow_networks: ["10.1.0.0/16", "10.1.2.3/16", "nonsense"]
  - name: b
    endpoint: http://127.0.0.1:2/
    allow_networks: ["127.0.0.1"]
`
	_, _, err := Load(writeFile(t, body))
	problems, ok := AsProblems(err)
	if !ok {
		t.Fatalf("err = %v, want *Problems", err)
	}
	joined := strings.Join(problems, "\n")
	for _, w := range []string{
		`dsps[0] (a): allow_networks[1]: "10.1.2.3/16" has bits set past its length; did you mean 10.1.0.0/16?`,
		`dsps[0] (a): allow_networks[2]: "nonsense" is not a CIDR prefix`,
		`dsps[1] (b): allow_networks[0]: "127.0.0.1" is an address`,
		`outbox.proxy:`,
	} {
		if !strings.Contains(joined, w) {
			t.Errorf("problems lack %q:\n%s", w, joined)
		}
	}
	if strings.Contains(joined, "secret") || strings.Contains(joined, "allow_networks[0]: \"10.1.0.0/16\"") {
		t.Errorf("problems show the proxy password or a good entry:\n%s", joined)
	}

	good := minimal + "outbox:\n  proxy: http://u:hunter2@127.0.0.1:3128\ndsps:\n  - {name: a, endpoint: \"http://127.0.0.1:1/\", allow_networks: [\"127.0.0.0/8\", \"fd00::/8\"]}\n"
	cfg, _, err := Load(writeFile(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DSPs[0].AllowNetworks; len(got) != 2 || got[1] != "fd00::/8" {
		t.Fatalf("allow_networks = %v", got)
	}
	if s := toString(cfg.Redacted()); strings.Contains(s, "hunter2") {
		t.Fatalf("redacted config shows the proxy password: %s", s)
	}
	for _, bad := range []string{"127.0.0.1:3128", "http://", "http://proxy.example:3128/path", "http://proxy.example:0"} {
		if _, err := ParseProxy(bad); err == nil {
			t.Errorf("ParseProxy(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"http://proxy.example:3128", "https://proxy.example", "socks5://127.0.0.1:1080", "socks5h://p:1080/"} {
		if _, err := ParseProxy(ok); err != nil {
			t.Errorf("ParseProxy(%q) = %v", ok, err)
		}
	}
}

func TestListenSafety(t *testing.T) {
	tests := []struct {
		listen string
		public bool
		ok     bool
	}{
		{"127.0.0.1:8015", false, true},
		{"localhost:8015", false, true},
		{"[::1]:8015", false, true},
		{"0.0.0.0:8015", false, false},
		{"10.1.2.3:8015", false, false},
		{":8015", false, false},
		{"0.0.0.0:8015", true, true},
		{"nonsense", true, false},
	}
	for _, tt := range tests {
		err := checkListen(tt.listen, tt.public)
		if (err == "") != tt.ok {
			t.Errorf("checkListen(%q, %v) = %q, want ok=%v", tt.listen, tt.public, err, tt.ok)
		}
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	_, warnings, err := Load(writeFile(t, minimal+"future_feature: 1\nauction:\n  shiny: true\n"))
	if err != nil {
		t.Fatalf("unknown keys must not be errors: %v", err)
	}
	if len(warnings) != 2 {
		t.Fatalf("warnings = %v, want 2", warnings)
	}
}

func TestDerivedCreativeIDIsStable(t *testing.T) {
	body := minimal + "inventory:\n  campaigns:\n    - id: 5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50\n      creatives:\n        - {type: image, mime: image/png, size: 300x250}\n"
	a, _, err := Load(writeFile(t, body))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := Load(writeFile(t, body))
	id := a.Inventory.Campaigns[0].Creatives[0].ID
	if !validHexID(id) || id != b.Inventory.Campaigns[0].Creatives[0].ID {
		t.Fatalf("derived id %q not stable 32-hex", id)
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"0.05", 9, 50_000_000, true},
		{"1", 6, 1_000_000, true},
		{"1.1234567891", 9, 0, false},
		{"-1", 9, 0, false},
		{"1e3", 9, 0, false},
		{"", 9, 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in, tt.scale)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDecimal(%q,%d) = %d, %v", tt.in, tt.scale, got, err)
		}
	}
}

// headerValue looks a header up case-insensitively: viper lower-cases map
// keys read from YAML, and HTTP header names are case-insensitive anyway.
func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func TestChangedKeys(t *testing.T) {
	a, _, err := Load(writeFile(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := Load(writeFile(t, minimal+"auction:\n  tmax: 500ms\n  breaker:\n    failures: 2\ndatabase:\n  url: postgres://x@127.0.0.1/y\n"))
	got := ChangedKeys(a, b)
	want := []string{"database.url", "auction.tmax", "auction.breaker.failures"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ChangedKeys = %v, want %v", got, want)
	}
	if keys := ChangedKeys(a, a); len(keys) != 0 {
		t.Fatalf("ChangedKeys(a, a) = %v", keys)
	}
}

// base_url becomes info.json's serverUrl; a host PHP's FILTER_VALIDATE_URL
// refuses aborts the AdServer's whole ads:fetch-hosts run, so it must stop
// the bridge at start instead.
func TestBaseURLHostIsOneTheAdServerAccepts(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8015", true},
		{"http://localhost:8015", true},
		{"http://[::1]:8015", true},
		{"http://dsp-bridge:8015", true},
		{"https://bridge.example.org", true},
		{"http://:8015", false},           // listen ":8015" with no base_url
		{"http://dsp_bridge:8015", false}, // a compose service name with "_"
		{"http://127.0.0.1:99999", false},
		{"http://-bridge:8015", false},
		{"http://a..b:8015", false},
	}
	for _, tt := range tests {
		if err := checkBaseURL(tt.url); (err == "") != tt.ok {
			t.Errorf("checkBaseURL(%q) = %q, want ok=%v", tt.url, err, tt.ok)
		}
	}
	_, _, err := Load(writeFile(t, minimal+"listen: \":8015\"\nallow_public_listen: true\n"))
	if problems, _ := AsProblems(err); !strings.Contains(strings.Join(problems, "\n"), "base_url:") {
		t.Fatalf("listen :8015 without base_url: %v, want a base_url problem", err)
	}
}
