package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix is the prefix of every environment variable the bridge reads.
const EnvPrefix = "BRIDGE_"

// defaults holds every key that has a default; keys absent here default to
// the zero value (or are derived in applyDerived).
var defaults = map[string]any{
	"listen":                             "127.0.0.1:8015",
	"log.level":                          "info",
	"log.buffer":                         64 << 10,
	"log.flush_interval":                 "200ms",
	"server.max_body_bytes":              1 << 20,
	"server.read_timeout":                "10s",
	"server.write_timeout":               "35s",
	"server.shutdown_timeout":            "10s",
	"database.max_conns":                 20,
	"database.win_conns":                 4,
	"database.win_writers":               1,
	"database.win_commit_delay":          "500us",
	"adserver.clock_skew":                "30s",
	"auction.tmax":                       "1000ms",
	"auction.max_concurrent":             512,
	"auction.bidfloor":                   "0",
	"auction.breaker.enabled":            true,
	"auction.breaker.failures":           5,
	"auction.breaker.open_for":           "10s",
	"auction.breaker.half_open_requests": 1,
	"money.rate_refresh":                 "10m",
	"money.rate_max_age":                 "6h",
	"money.fee":                          "0",
	"auction.imp_exp":                    "24h",
	"supply_chain.complete":              1,
	"traffic.min_human_score":            0.4,
	"auction.breaker.failure_rate":       0.0,
	"auction.breaker.window":             20,
	"payments.period":                    "1h",
	"payments.settle_after":              "10m",
	"payments.window":                    "720h",
	"payments.settle_chunk":              50000,
	"outbox.workers":                     4,
	"outbox.per_dsp":                     64,
	"outbox.timeout":                     "5s",
	"outbox.max_age":                     "24h",
	"outbox.backoff_base":                "1s",
	"outbox.backoff_max":                 "5m",
	"outbox.poll":                        "500ms",
	"outbox.proxy":                       "", // none: notices go direct
	"events.max_view_age":                "24h",
	"events.batch_size":                  128,
	"retention.wins":                     "168h",
	"retention.events":                   "9600h",
	"retention.partition_interval":       "24h",
	"retention.check_interval":           "10m",
	"inventory.classifier":               "0001000000081a67",
	"inventory.keywords":                 map[string][]string{"category": {"unknown"}, "quality": {"high"}},
	"metrics.listen":                     "127.0.0.1:9015",
	"runtime.gogc":                       DefaultGOGC,
	"creatives.delivery":                 DeliveryInline,
	"creatives.inline_max_bytes":         1 << 20,
	"creatives.max_bytes":                16 << 20,
	"creatives.cache_entries":            1000,
	"creatives.cache_bytes":              64 << 20,
	"creatives.vast_max_wrappers":        3,
	"creatives.fetch_timeout":            "10s",
	"creatives.background_fetches":       16,
	"creatives.failure_ttl":              "1m",
	"creatives.public_ttl":               "24h",
}

// dsps[].price_missing values.
const (
	PriceMissingReject = "reject"
	PriceMissingFixed  = "fixed"
)

// DefaultGOGC is runtime.gogc's default: a heap up to 5 × the live one
// (tens of MB) between collections, a quarter of the collections of Go's
// default 100.
const DefaultGOGC = 400

// MaxEventsBatchSize bounds events.batch_size: a bigger group only makes
// one transaction (and the views waiting on it) longer.
const MaxEventsBatchSize = 10000

// Defaults of per-DSP and per-campaign fields (list items get no viper defaults).
const (
	DefaultDSPTimeout     = 800 * time.Millisecond
	DefaultDSPMaxConns    = 256
	DefaultCampaignBudget = 10_000_000_000_000 // 100 ADS per hour, in clicks
	DefaultCampaignMaxCPM = 100_000_000_000    // 1 ADS per 1000 views, in clicks
)

// DefaultDSPTMaxAllowance is the round trip kept back from a DSP's tmax.
const DefaultDSPTMaxAllowance = 20 * time.Millisecond

// MinDSPTMax is the least tmax a DSP is called with: with less time left
// (after its allowance) it is not called at all (skipped_deadline), since
// no DSP answers usefully in a few milliseconds and tmax 0 means no limit.
const MinDSPTMax = 10 * time.Millisecond

// DefaultDSPMaxBidsPerImp: a DSP rarely has a reason to send more than a
// few bids for one slot, and only the best of them can win.
const DefaultDSPMaxBidsPerImp = 5

// Keys returns every configuration key (dotted path), sorted. Lists and maps
// are single keys.
func Keys() []string {
	var keys []string
	walkKeys(reflect.TypeOf(Config{}), "", func(key string, _ reflect.Type) { keys = append(keys, key) })
	sort.Strings(keys)
	return keys
}

// EnvName is the environment variable for a key: database.url → BRIDGE_DATABASE_URL.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func walkKeys(t reflect.Type, prefix string, fn func(key string, t reflect.Type)) {
	walkFields(t, prefix, nil, func(key string, _ []int, t reflect.Type) { fn(key, t) })
}

// walkFields calls fn for every leaf key with its field index path.
func walkFields(t reflect.Type, prefix string, index []int, fn func(key string, index []int, t reflect.Type)) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		at := append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct {
			walkFields(f.Type, key+".", at, fn)
			continue
		}
		fn(key, at, f.Type)
	}
}

// ChangedKeys lists the keys whose values differ between a and b.
func ChangedKeys(a, b *Config) []string {
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	var keys []string
	walkFields(va.Type(), "", nil, func(key string, index []int, _ reflect.Type) {
		if !reflect.DeepEqual(va.FieldByIndex(index).Interface(), vb.FieldByIndex(index).Interface()) {
			keys = append(keys, key)
		}
	})
	return keys
}

// Load reads the YAML file at path (optional: "" means none) and the
// environment, and returns the validated configuration plus warnings (unknown
// keys). A non-nil error is a *Problems listing everything wrong.
func Load(path string) (*Config, []string, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	for key, val := range defaults {
		v.SetDefault(key, val)
	}
	for _, key := range Keys() {
		if err := v.BindEnv(key, EnvName(key)); err != nil {
			return nil, nil, err
		}
	}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, &Problems{List: []string{fmt.Sprintf("config file: %v", err)}}
		}
		defer f.Close()
		if err := v.ReadConfig(f); err != nil {
			return nil, nil, &Problems{List: []string{fmt.Sprintf("config file %s: %v", path, err)}}
		}
	}
	warnings := append(unknownKeys(v), unknownEntryKeys(v)...)

	var cfg Config
	problems, failed := decode(v, &cfg)
	readRateEnv(&cfg)
	applyDerived(&cfg)
	problems = append(problems, withoutFailed(cfg.Validate(), failed)...)
	if len(problems) > 0 {
		return &cfg, warnings, &Problems{List: problems}
	}
	return &cfg, warnings, nil
}

// documentStringHook lets a list or map key be given as a JSON or YAML
// document in a string, which is how such keys arrive from the environment.
func documentStringHook(from, to reflect.Type, data any) (any, error) {
	s, ok := data.(string)
	if !ok || from.Kind() != reflect.String {
		return data, nil
	}
	switch to.Kind() {
	case reflect.Slice, reflect.Map:
	default:
		return data, nil
	}
	var doc any
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return nil, fmt.Errorf("not a JSON or YAML document: %v", err)
	}
	if doc == nil {
		// Blank, only a comment, "null" or "~": nothing. A typed empty
		// value, since the hooks after this one cannot take an untyped nil
		// (mapstructure panicked on it).
		return reflect.Zero(to).Interface(), nil
	}
	return doc, nil
}

// readRateEnv reads BRIDGE_MONEY_RATES_<CUR> variables: the rates map is keyed
// by currency, so its keys cannot be bound one by one in advance.
func readRateEnv(cfg *Config) {
	prefix := EnvName("money.rates") + "_"
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		if cur, ok := strings.CutPrefix(name, prefix); ok && cur != "" {
			if cfg.Money.Rates == nil {
				cfg.Money.Rates = map[string]string{}
			}
			cfg.Money.Rates[strings.ToUpper(cur)] = val
		}
	}
}

// unknownKeys lists keys in the file that the bridge does not know. They are
// warnings, not errors, so a config written for a newer bridge still starts.
func unknownKeys(v *viper.Viper) []string {
	known := map[string]bool{}
	var containers []string
	walkKeys(reflect.TypeOf(Config{}), "", func(key string, t reflect.Type) {
		known[key] = true
		if t.Kind() == reflect.Map || t.Kind() == reflect.Slice {
			containers = append(containers, key+".")
		}
	})
	var warnings []string
	for _, key := range v.AllKeys() {
		if known[key] || hasAnyPrefix(key, containers) {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("unknown key %q is ignored", key))
	}
	sort.Strings(warnings)
	return warnings
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// applyDerived fills the defaults that depend on other keys or apply to list
// items.
func applyDerived(cfg *Config) {
	if cfg.BaseURL == "" && cfg.Listen != "" {
		cfg.BaseURL = "http://" + cfg.Listen
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	norm := map[string]string{}
	for cur, rate := range cfg.Money.Rates {
		norm[strings.ToUpper(cur)] = rate
	}
	cfg.Money.Rates = norm
	cfg.Money.RateURL = strings.TrimRight(cfg.Money.RateURL, "/")
	if cfg.SupplyChain.SID == "" {
		cfg.SupplyChain.SID = cfg.AdServer.Address
	}
	for i := range cfg.DSPs {
		d := &cfg.DSPs[i]
		if d.Timeout == 0 {
			d.Timeout = min(DefaultDSPTimeout, cfg.Auction.TMax)
		}
		if d.Dialect == "" {
			d.Dialect = "2.6"
		}
		d.Currency = strings.ToUpper(d.Currency)
		if d.Currency == "" {
			d.Currency = "USD"
		}
		if d.MaxConns == 0 {
			d.MaxConns = DefaultDSPMaxConns
		}
		if d.BidAdjustment == "" {
			d.BidAdjustment = "1"
		}
		d.Creative = strings.ToLower(d.Creative)
		if d.Creative == "" {
			d.Creative = CreativeAuto
		}
		if d.TMaxAllowance == 0 {
			d.TMaxAllowance = DefaultDSPTMaxAllowance
		}
		if d.MaxBidsPerImp == 0 {
			d.MaxBidsPerImp = DefaultDSPMaxBidsPerImp
		}
		d.Breaker = d.Breaker.withDefaults(cfg.Auction.Breaker)
		if d.PriceMissing == "" {
			d.PriceMissing = PriceMissingReject
		}
	}
	for i := range cfg.Inventory.Campaigns {
		c := &cfg.Inventory.Campaigns[i]
		if c.Budget == 0 {
			c.Budget = DefaultCampaignBudget
		}
		if c.MaxCPM == 0 {
			c.MaxCPM = DefaultCampaignMaxCPM
		}
		if c.LandingURL == "" {
			c.LandingURL = cfg.BaseURL
		}
		for j := range c.Creatives {
			cr := &c.Creatives[j]
			if cr.ID == "" && validHexID(c.ID) {
				cr.ID = DeriveCreativeID(c.ID, cr.Type, cr.Mime, cr.Size)
			}
		}
	}
}

func (b Breaker) withDefaults(d Breaker) Breaker {
	if b.Enabled == nil {
		b.Enabled = d.Enabled
	}
	if b.Failures == 0 {
		b.Failures = d.Failures
	}
	if b.OpenFor == 0 {
		b.OpenFor = d.OpenFor
	}
	if b.HalfOpenRequests == 0 {
		b.HalfOpenRequests = d.HalfOpenRequests
	}
	if b.FailureRate == nil {
		b.FailureRate = d.FailureRate
	}
	if b.Window == 0 {
		b.Window = d.Window
	}
	return b
}

// Problems is every problem found in a configuration.
type Problems struct{ List []string }

func (p *Problems) Error() string {
	return fmt.Sprintf("%d configuration problem(s):\n  - %s", len(p.List), strings.Join(p.List, "\n  - "))
}

// AsProblems returns the problem list of err, if it is a *Problems.
func AsProblems(err error) ([]string, bool) {
	var p *Problems
	if errors.As(err, &p) {
		return p.List, true
	}
	return nil, false
}
