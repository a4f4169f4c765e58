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
	// PublicURL, when set, is a public address from which the bridge serves
	// bid markup itself (a later capability).
	PublicURL    string `mapstructure:"public_url"`
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
	Inventory Inventory `mapstructure:"inventory"`
	Metrics   Metrics   `mapstructure:"metrics"`
}

// Log configures structured logging.
type Log struct {
	Level    string `mapstructure:"level"`    // debug, info, warn, error
	Payloads bool   `mapstructure:"payloads"` // log full DSP requests and answers at debug level
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
	URL      string `mapstructure:"url"`
	MaxConns int32  `mapstructure:"max_conns"`
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
}

// Breaker configures a circuit breaker.
type Breaker struct {
	Enabled *bool `mapstructure:"enabled"`
	// Failures is the number of consecutive failures that opens the breaker.
	Failures uint32 `mapstructure:"failures"`
	// OpenFor is how long an open breaker rejects calls before probing.
	OpenFor time.Duration `mapstructure:"open_for"`
	// HalfOpenRequests is how many probe calls a half-open breaker lets through.
	HalfOpenRequests uint32 `mapstructure:"half_open_requests"`
	// FailureRate (0..1, 0: off) also opens the breaker when at least this
	// share of the last Window calls failed. A pointer, so that a DSP can
	// set 0 against a default.
	FailureRate *float64 `mapstructure:"failure_rate"`
	// Window is how many of the latest calls FailureRate looks at.
	Window int `mapstructure:"window"`
}

// IsEnabled reports whether the breaker is on (the default).
func (b Breaker) IsEnabled() bool { return b.Enabled == nil || *b.Enabled }

// Rate is FailureRate, 0 (off) when unset.
func (b Breaker) Rate() float64 {
	if b.FailureRate == nil {
		return 0
	}
	return *b.FailureRate
}

// DSP is one demand partner; everything about it lives here.
type DSP struct {
	Name     string            `mapstructure:"name"`
	Endpoint string            `mapstructure:"endpoint"`
	Timeout  time.Duration     `mapstructure:"timeout"`
	Headers  map[string]string `mapstructure:"headers"`
	// Dialect is the OpenRTB version the DSP speaks: "2.6" (default) or "2.5".
	Dialect string `mapstructure:"dialect"`
	// Currency the DSP bids in (default USD); others need money.rates.<CUR>.
	Currency string `mapstructure:"currency"`
	// Seat, if set, is the only seat accepted from this DSP.
	Seat string `mapstructure:"seat"`
	// Gzip compresses requests and asks for compressed answers.
	Gzip bool `mapstructure:"gzip"`
	// MaxConns bounds concurrent connections (and so calls) to the DSP.
	MaxConns int `mapstructure:"max_conns"`
	// ClickURLField names the bid.ext field that holds the click-through URL.
	ClickURLField string `mapstructure:"click_url_field"`
	// TMaxAllowance is kept back from the tmax told to the DSP for the
	// network round trip: the DSP is told its time less this.
	TMaxAllowance time.Duration `mapstructure:"tmax_allowance"`
	// MaxBidsPerImp bounds an answer: one with more than imps × this many
	// bids is refused whole (invalid_response).
	MaxBidsPerImp int `mapstructure:"max_bids_per_imp"`
	// Breaker overrides auction.breaker for this DSP.
	Breaker Breaker `mapstructure:"breaker"`
}

// Money configures currency conversion. Rates are decimal strings so that no
// float ever reaches a sum.
type Money struct {
	// AdsUSD is the USD price of 1 ADS (DECISIONS §2).
	AdsUSD string `mapstructure:"ads_usd"`
	// Rates maps a currency code to the USD price of one unit of it.
	Rates map[string]string `mapstructure:"rates"`
}

// Payments configures payment report periods.
type Payments struct {
	Period      time.Duration `mapstructure:"period"`
	SettleAfter time.Duration `mapstructure:"settle_after"`
	// Window is how far back /payment-reports lists reports.
	Window time.Duration `mapstructure:"window"`
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
}

// Events configures view and click recording.
type Events struct {
	// SpoolDir holds events accepted while PostgreSQL was unreachable.
	SpoolDir string `mapstructure:"spool_dir"`
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
