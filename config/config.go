// Package config loads the bridge's settings from a YAML file and BRIDGE_*
// environment variables, fills in defaults and validates them.
//
// Every key of Config is bound to its environment variable explicitly
// (BRIDGE_ + the dotted path in upper case with "_" for "."), because viper
// ignores environment variables for keys it was never told about. Keys that
// hold lists or maps (dsps, inventory.campaigns, money.rates, ...) take a JSON
// or YAML document in their variable.
package config

import "time"

// Config is the bridge's whole configuration. The mapstructure tags are the
// operator-facing key names (DECISIONS §13): do not rename them.
type Config struct {
	// Listen is the AdServer-facing address; loopback unless AllowPublicListen.
	Listen string `mapstructure:"listen"`
	// BaseURL is announced to the AdServer as serverUrl; default http:// + Listen.
	BaseURL           string `mapstructure:"base_url"`
	AllowPublicListen bool   `mapstructure:"allow_public_listen"`
	// PublicURL is the public https origin the operator routes to
	// PublicListen: serve_url of creatives.delivery public is
	// PublicURL/c/<token>.
	PublicURL string `mapstructure:"public_url"`
	// PublicListen is the address of the public listener that serves those
	// creatives and nothing else.
	PublicListen string `mapstructure:"public_listen"`

	Log       Log       `mapstructure:"log"`
	Server    Server    `mapstructure:"server"`
	Database  Database  `mapstructure:"database"`
	Adshares  Adshares  `mapstructure:"adshares"`
	AdServer  AdServer  `mapstructure:"adserver"`
	Auction   Auction   `mapstructure:"auction"`
	DSPs      []DSP     `mapstructure:"dsps"`
	Money     Money     `mapstructure:"money"`
	Payments  Payments  `mapstructure:"payments"`
	Outbox    Outbox    `mapstructure:"outbox"`
	Events    Events    `mapstructure:"events"`
	Retention Retention `mapstructure:"retention"`
	Inventory Inventory `mapstructure:"inventory"`
	Metrics   Metrics   `mapstructure:"metrics"`
	Runtime   Runtime   `mapstructure:"runtime"`

	SupplyChain SupplyChain `mapstructure:"supply_chain"`
	Privacy     Privacy     `mapstructure:"privacy"`
	Blocking    Blocking    `mapstructure:"blocking"`
	Traffic     Traffic     `mapstructure:"traffic"`
	Creatives   Creatives   `mapstructure:"creatives"`
}

// Log configures structured logging.
type Log struct {
	Level    string `mapstructure:"level"`    // debug, info, warn, error
	Payloads bool   `mapstructure:"payloads"` // log full DSP requests and answers at debug level
	// Buffer is the bytes of log lines held before one write (0: a write per
	// line); FlushInterval is the longest a buffered info line waits. Warn and
	// error lines are written at once.
	Buffer        int           `mapstructure:"buffer"`
	FlushInterval time.Duration `mapstructure:"flush_interval"`
}

// Server configures the AdServer-facing HTTP server.
type Server struct {
	MaxBodyBytes    int64         `mapstructure:"max_body_bytes"`
	ReadTimeout     time.Duration `mapstructure:"read_timeout"`
	WriteTimeout    time.Duration `mapstructure:"write_timeout"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
}

// Database configures PostgreSQL. An empty URL means a throwaway local cluster.
type Database struct {
	URL string `mapstructure:"url"`
	// MaxConns is every connection one bridge opens.
	MaxConns int32 `mapstructure:"max_conns"`
	// WinConns of them are reserved for storing wins, so that slow views,
	// settlement or operator queries never make /bid answer [].
	WinConns int32 `mapstructure:"win_conns"`
	// WinWriters is how many transactions of wins run at once: the wins of
	// the auctions that arrive meanwhile wait and share the next commit.
	WinWriters int `mapstructure:"win_writers"`
	// WinCommitDelay is how long a commit of wins waits for the auctions
	// still running to join it (0: it never waits).
	WinCommitDelay time.Duration `mapstructure:"win_commit_delay"`
}

// Adshares holds the bridge's own ADS account.
type Adshares struct {
	Address string `mapstructure:"address"`
}

// AdServer describes the AdServer that calls the bridge.
type AdServer struct {
	// Address is the AdServer's ADS account (ADSERVER_ADDR), optional.
	Address string `mapstructure:"address"`
	// PublicKey (Ed25519, hex) turns on signature verification (DECISIONS §4).
	PublicKey string `mapstructure:"public_key"`
	// ClockSkew is how far the AdServer's clock may be off ours, either way,
	// when checking the `created` of its signatures.
	ClockSkew time.Duration `mapstructure:"clock_skew"`
}

// Auction configures the fan-out to DSPs.
type Auction struct {
	// TMax is the hard deadline of one /bid call.
	TMax time.Duration `mapstructure:"tmax"`
	// MaxConcurrent bounds auctions in flight; beyond it /bid answers [] at once.
	MaxConcurrent int `mapstructure:"max_concurrent"`
	// BidFloor is the lowest accepted price, a decimal USD CPM string ("0": none).
	BidFloor string `mapstructure:"bidfloor"`
	// Breaker holds the defaults for every DSP's circuit breaker.
	Breaker Breaker `mapstructure:"breaker"`
	// ImpExp is sent as imp.exp: how long after the auction the impression
	// may still happen (and be billed).
	ImpExp time.Duration `mapstructure:"imp_exp"`
}

// Money configures currency conversion and the operator's fee. Rates and
// fractions are decimal strings so that no float ever reaches a sum.
type Money struct {
	// AdsUSD is the USD price of 1 ADS (DECISIONS §2). With RateURL set it
	// is optional: only the starting rate of a database that has never
	// stored a fetched one.
	AdsUSD string `mapstructure:"ads_usd"`
	// Rates maps a currency code to the USD price of one unit of it.
	Rates map[string]string `mapstructure:"rates"`
	// RateURL is an AdsOperator-compatible exchange-rate service (the one
	// the AdServer uses); empty keeps AdsUSD static.
	RateURL string `mapstructure:"rate_url"`
	// RateRefresh is how often the rate is fetched.
	RateRefresh time.Duration `mapstructure:"rate_refresh"`
	// RateMaxAge is how old the last fetched rate may get before the feed
	// counts as stale (it is still used, with a warning).
	RateMaxAge time.Duration `mapstructure:"rate_max_age"`
	// Fee is the operator's share of every billed view's price, a decimal
	// fraction in [0, 1) ("0": none).
	Fee string `mapstructure:"fee"`
}

// Payments configures payment report periods.
type Payments struct {
	Period      time.Duration `mapstructure:"period"`
	SettleAfter time.Duration `mapstructure:"settle_after"`
	// Window is how far back /payment-reports lists reports.
	Window time.Duration `mapstructure:"window"`
	// SettleChunk is how many views one settlement transaction stamps.
	SettleChunk int `mapstructure:"settle_chunk"`
}

// Outbox configures delivery of nurl/burl notices.
type Outbox struct {
	Workers     int           `mapstructure:"workers"`
	PerDSP      int           `mapstructure:"per_dsp"`
	Timeout     time.Duration `mapstructure:"timeout"`
	MaxAge      time.Duration `mapstructure:"max_age"`
	BackoffBase time.Duration `mapstructure:"backoff_base"`
	BackoffMax  time.Duration `mapstructure:"backoff_max"`
	Poll        time.Duration `mapstructure:"poll"`
	// Proxy, if set, is the HTTP(S) or SOCKS5 proxy every notice goes
	// through; proxy environment variables are never read.
	Proxy string `mapstructure:"proxy"`
}

// Events configures view and click recording.
type Events struct {
	// SpoolDir holds events accepted while PostgreSQL was unreachable.
	SpoolDir string `mapstructure:"spool_dir"`
	// MaxViewAge is how long after its win a view is billed; a later view
	// is stored with value 0 (reason "late") and sends no burl.
	MaxViewAge time.Duration `mapstructure:"max_view_age"`
	// BatchSize is how many concurrent views share one transaction (and
	// one commit) at most: the views' group commit.
	BatchSize int `mapstructure:"batch_size"`
}

// Retention configures how long rows are kept and how tables are
// partitioned (whole partitions are dropped, never rows one by one).
type Retention struct {
	// Wins is how long a win is kept (viewed or not); a view after that is
	// answered like an unknown extid.
	Wins time.Duration `mapstructure:"wins"`
	// Events is how long events and notices are kept once their payment
	// report is done (and outside payments.window).
	Events time.Duration `mapstructure:"events"`
	// PartitionInterval is the time one partition covers.
	PartitionInterval time.Duration `mapstructure:"partition_interval"`
	// CheckInterval is how often partitions are created ahead and expired
	// ones dropped.
	CheckInterval time.Duration `mapstructure:"check_interval"`
}

// Inventory is what the bridge offers the AdServer.
type Inventory struct {
	// Classifier is the AdServer's required classifier name.
	Classifier string `mapstructure:"classifier"`
	// Keywords are the classification keywords of every creative.
	Keywords  map[string][]string `mapstructure:"keywords"`
	Campaigns []Campaign          `mapstructure:"campaigns"`
}

// Campaign is one inventory campaign; amounts are integer ADS clicks.
type Campaign struct {
	ID         string     `mapstructure:"id"`
	Name       string     `mapstructure:"name"`
	Budget     int64      `mapstructure:"budget"`  // clicks per hour
	MaxCPM     int64      `mapstructure:"max_cpm"` // clicks per 1000 views
	LandingURL string     `mapstructure:"landing_url"`
	DateStart  string     `mapstructure:"date_start"` // ATOM; default: first start
	DateEnd    string     `mapstructure:"date_end"`   // ATOM or empty
	Creatives  []Creative `mapstructure:"creatives"`
}

// Creative is one slot shape the DSPs can fill.
type Creative struct {
	ID   string `mapstructure:"id"`
	Type string `mapstructure:"type"` // image or video
	Mime string `mapstructure:"mime"`
	Size string `mapstructure:"size"` // WxH
}

// Metrics configures the operator-facing metrics server.
type Metrics struct {
	Listen string `mapstructure:"listen"`
	Pprof  bool   `mapstructure:"pprof"`
	// AllowPublic allows a non-loopback Listen. It is its own key: opening
	// the AdServer-facing port (allow_public_listen) must not also expose
	// metrics and pprof.
	AllowPublic bool `mapstructure:"allow_public"`
}

// Runtime tunes the Go runtime of `bridge serve`.
type Runtime struct {
	// GOGC is the garbage collector's target (debug.SetGCPercent): the
	// heap may grow this many percent over the live heap before a
	// collection. The live heap is small (tens of MB) and every request
	// allocates, so Go's default of 100 collects many times a second; a
	// GOGC or GOMEMLIMIT in the environment takes precedence and this key
	// is then ignored.
	GOGC int `mapstructure:"gogc"`
}

// Creative delivery modes (creatives.delivery).
const (
	DeliveryInline = "inline" // serve_url is a data: URI of the creative
	DeliveryPublic = "public" // serve_url is public_url/c/<token>, served by public_listen
	DeliveryDirect = "direct" // the DSP's asset URL where every hop answers CORS *, else inline
)

// Where a DSP's bids carry their creative (dsps[].creative).
const (
	CreativeAuto   = "auto"
	CreativeMarkup = "markup"
	CreativeNURL   = "nurl"
)

// Creatives configures how creatives from DSP markup (adm: image markup,
// VAST) are fetched, cached and delivered to the browser.
type Creatives struct {
	// Delivery is inline, public or direct.
	Delivery string `mapstructure:"delivery"`
	// InlineMaxBytes is the largest creative delivered inline (a data:
	// URI in the /bid answer); larger ones lose with creative_too_large.
	InlineMaxBytes int64 `mapstructure:"inline_max_bytes"`
	// MaxBytes is the largest creative fetched for public or direct
	// delivery.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// CacheEntries and CacheBytes bound the cache of resolved creatives
	// (URLs remembered; bytes of the distinct creatives).
	CacheEntries int   `mapstructure:"cache_entries"`
	CacheBytes   int64 `mapstructure:"cache_bytes"`
	// VASTMaxWrappers is how many VAST wrappers are followed.
	VASTMaxWrappers int `mapstructure:"vast_max_wrappers"`
	// FetchTimeout bounds one fetch, also one finishing in the background.
	FetchTimeout time.Duration `mapstructure:"fetch_timeout"`
	// BackgroundFetches caps fetches left running after their auction gave up.
	BackgroundFetches int `mapstructure:"background_fetches"`
	// FailureTTL is how long a failed fetch is remembered.
	FailureTTL time.Duration `mapstructure:"failure_ttl"`
	// PublicTTL is how long after its win a public creative is served
	// (and its bytes kept).
	PublicTTL time.Duration `mapstructure:"public_ttl"`
}
