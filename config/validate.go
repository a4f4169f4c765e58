package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/outbound"
)

var (
	hexID      = regexp.MustCompile(`^[0-9a-f]{32}$`)
	dspName    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	sizeRe     = regexp.MustCompile(`^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	decimalRe  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	logLevels  = map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
)

// Mimes a creative may declare, by type (the AdServer's taxonomy).
var Mimes = map[string][]string{
	"image": {"image/jpeg", "image/png", "image/gif", "image/webp"},
	"video": {"video/mp4"},
}

func validHexID(s string) bool { return hexID.MatchString(s) }

// Validate returns every problem in the configuration, not just the first.
func (c *Config) Validate() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if err := checkListen(c.Listen, c.AllowPublicListen); err != "" {
		add("listen: %s", err)
	}
	if err := checkBaseURL(c.BaseURL); err != "" {
		add("base_url: %s", err)
	}
	if c.Adshares.Address == "" {
		add("adshares.address: required (the bridge's ADS account, e.g. 0001-00000003-AB0C)")
	} else if err := ads.ValidateAddress(c.Adshares.Address); err != nil {
		add("adshares.address: %v", err)
	}
	if c.AdServer.Address != "" {
		if err := ads.ValidateAddress(c.AdServer.Address); err != nil {
			add("adserver.address: %v", err)
		}
	}
	if k := c.AdServer.PublicKey; k != "" {
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			add("adserver.public_key: must be 64 hex characters (an Ed25519 public key)")
		}
	}
	if c.AdServer.ClockSkew < 0 || c.AdServer.ClockSkew > ads.MaxSignatureAge {
		add("adserver.clock_skew: %s must be 0..%s", c.AdServer.ClockSkew, ads.MaxSignatureAge)
	}
	if !logLevels[c.Log.Level] {
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.Buffer < 0 || c.Log.Buffer > 16<<20 {
		add("log.buffer: %d must be 0 (a write per line) .. 16777216 bytes", c.Log.Buffer)
	}
	if c.Log.Buffer > 0 && (c.Log.FlushInterval < time.Millisecond || c.Log.FlushInterval > 10*time.Second) {
		add("log.flush_interval: %s is outside 1ms..10s", c.Log.FlushInterval)
	}
	if c.Runtime.GOGC < 10 || c.Runtime.GOGC > 10000 {
		add("runtime.gogc: %d must be 10..10000 (percent the heap grows over the live heap before a collection)", c.Runtime.GOGC)
	}
	if c.Server.MaxBodyBytes < 1024 {
		add("server.max_body_bytes: must be at least 1024")
	}
	if c.Auction.TMax < 10*time.Millisecond || c.Auction.TMax > 30*time.Second {
		add("auction.tmax: %s is outside 10ms..30s", c.Auction.TMax)
	}
	if c.Server.WriteTimeout <= c.Auction.TMax {
		add("server.write_timeout: %s must be longer than auction.tmax (%s)", c.Server.WriteTimeout, c.Auction.TMax)
	}
	if c.Auction.MaxConcurrent < 1 {
		add("auction.max_concurrent: must be at least 1")
	}
	if _, err := ParseDecimal(c.Auction.BidFloor, 6); err != nil {
		add("auction.bidfloor: %q must be a decimal USD CPM with at most 6 decimals (\"0\" for none)", c.Auction.BidFloor)
	}
	if err := checkRate(c.Auction.Breaker); err != "" {
		add("auction.breaker: %s", err)
	}
	if c.Database.MaxConns < 1 {
		add("database.max_conns: must be at least 1")
	}
	if c.Database.WinConns < 0 || (c.Database.WinConns > 0 && c.Database.WinConns >= c.Database.MaxConns) {
		add("database.win_conns: %d must be 0 (no reserve) or less than database.max_conns (%d)", c.Database.WinConns, c.Database.MaxConns)
	}
	if pool := c.winPool(); c.Database.WinWriters < 1 || (pool > 0 && c.Database.WinWriters > int(pool)) {
		add("database.win_writers: %d must be from 1 to the connections that store wins (%d)", c.Database.WinWriters, pool)
	}
	if c.Database.WinCommitDelay < 0 || c.Database.WinCommitDelay > 10*time.Millisecond {
		add("database.win_commit_delay: %s is outside 0..10ms", c.Database.WinCommitDelay)
	}
	p = append(p, c.validateDSPs()...)
	p = append(p, c.validateSupply()...)
	p = append(p, c.validateMoney()...)
	if c.Payments.Period < time.Second {
		add("payments.period: %s is shorter than 1s", c.Payments.Period)
	} else if c.Payments.Period%time.Second != 0 {
		add("payments.period: %s must be whole seconds", c.Payments.Period)
	}
	if c.Payments.SettleAfter < 0 {
		add("payments.settle_after: must not be negative")
	}
	if c.Payments.Window < c.Payments.Period {
		add("payments.window: %s is shorter than payments.period", c.Payments.Window)
	}
	if c.Payments.SettleChunk < 1 {
		add("payments.settle_chunk: must be at least 1")
	}
	if c.Events.BatchSize < 1 || c.Events.BatchSize > MaxEventsBatchSize {
		add("events.batch_size: %d must be from 1 to %d", c.Events.BatchSize, MaxEventsBatchSize)
	}
	p = append(p, c.validateRetention()...)
	if c.Outbox.Workers < 1 || c.Outbox.PerDSP < 1 {
		add("outbox.workers and outbox.per_dsp: must be at least 1")
	}
	if c.Outbox.Timeout <= 0 || c.Outbox.MaxAge <= 0 || c.Outbox.BackoffBase <= 0 || c.Outbox.BackoffMax < c.Outbox.BackoffBase || c.Outbox.Poll <= 0 {
		add("outbox: timeout, max_age, backoff_base, poll must be positive and backoff_max >= backoff_base")
	}
	if c.Outbox.Proxy != "" {
		if _, err := ParseProxy(c.Outbox.Proxy); err != nil {
			add("outbox.proxy: %v", err)
		}
	}
	if c.Metrics.Listen != "" {
		if err := checkMetricsListen(c.Metrics.Listen, c.Metrics.AllowPublic); err != "" {
			add("metrics.listen: %s", err)
		}
	}
	p = append(p, c.validateCreatives()...)
	p = append(p, c.validateInventory()...)
	return p
}

func checkListen(addr string, allowPublic bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has a bad port", addr)
	}
	if allowPublic {
		return ""
	}
	if host == "localhost" {
		return ""
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Sprintf("%q is not a loopback address; the AdServer-facing endpoints have no authentication, so set allow_public_listen: true only if a firewall or proxy protects them", addr)
	}
	return ""
}

// checkBaseURL applies the AdServer's rules for URLs in info.json (§4.6, §11).
func checkBaseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", raw)
	}
	if raw != strings.ToLower(raw) {
		return fmt.Sprintf("%q must be lowercase (the AdServer case-folds it and would no longer match)", raw)
	}
	if !validURLHost(u) {
		// FILTER_VALIDATE_URL refuses it, and an invalid URL in info.json
		// aborts the AdServer's whole ads:fetch-hosts run (§6).
		return fmt.Sprintf("%q has no valid host name, IP address or port (set base_url to the address the AdServer uses)", raw)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q must be a bare origin without path or query (the AdServer drops the path for payment details)", raw)
	}
	if len(raw) > 200 {
		return fmt.Sprintf("%q is too long", raw)
	}
	return ""
}

// validURLHost applies PHP FILTER_VALIDATE_URL's host rule for http(s): an
// IP address (IPv6 in brackets) or letters, digits and inner hyphens in
// labels of at most 63 characters; and a numeric port up to 65535.
func validURLHost(u *url.URL) bool {
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n > 65535 {
			return false
		}
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		return strings.Contains(host, ":") && net.ParseIP(host) != nil
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func (c *Config) validateDSPs() []string {
	var p []string
	seen := map[string]bool{}
	for i, d := range c.DSPs {
		at := fmt.Sprintf("dsps[%d]", i)
		if d.Name != "" {
			at = fmt.Sprintf("dsps[%d] (%s)", i, d.Name)
		}
		if !dspName.MatchString(d.Name) {
			p = append(p, fmt.Sprintf("%s: name %q must be 1-32 of a-z, 0-9, _ and - (it labels metrics and reports)", at, d.Name))
		} else if seen[d.Name] {
			p = append(p, fmt.Sprintf("%s: duplicate name", at))
		}
		seen[d.Name] = true
		if u, err := url.Parse(d.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, fmt.Sprintf("%s: endpoint %q is not an http(s) URL", at, d.Endpoint))
		}
		if d.Timeout <= 0 || d.Timeout > c.Auction.TMax {
			p = append(p, fmt.Sprintf("%s: timeout %s must be positive and at most auction.tmax (%s)", at, d.Timeout, c.Auction.TMax))
		}
		if d.Dialect != "2.5" && d.Dialect != "2.6" {
			p = append(p, fmt.Sprintf("%s: dialect %q is not 2.5 or 2.6", at, d.Dialect))
		}
		if !currencyRe.MatchString(d.Currency) {
			p = append(p, fmt.Sprintf("%s: currency %q is not a 3-letter code", at, d.Currency))
		} else if d.Currency != "USD" && c.Money.Rates[d.Currency] == "" {
			p = append(p, fmt.Sprintf("%s: currency %s needs money.rates.%s (USD per unit)", at, d.Currency, d.Currency))
		}
		if d.MaxConns < 1 {
			p = append(p, fmt.Sprintf("%s: max_conns must be at least 1", at))
		}
		if err := checkBidAdjustment(d.BidAdjustment); err != "" {
			p = append(p, fmt.Sprintf("%s: bid_adjustment %s", at, err))
		}
		if d.Breaker.IsEnabled() && (d.Breaker.Failures < 1 || d.Breaker.OpenFor <= 0 || d.Breaker.HalfOpenRequests < 1) {
			p = append(p, fmt.Sprintf("%s: breaker needs failures >= 1, open_for > 0 and half_open_requests >= 1", at))
		}
		switch d.Creative {
		case CreativeAuto, CreativeMarkup, CreativeNURL:
		default:
			p = append(p, fmt.Sprintf("%s: creative %q is not auto, markup or nurl", at, d.Creative))
		}
		for j, n := range d.AllowNetworks {
			if _, err := outbound.ParseNetwork(n); err != nil {
				p = append(p, fmt.Sprintf("%s: allow_networks[%d]: %v", at, j, err))
			}
		}
		p = append(p, validateDSPSupply(at, d)...)
		p = append(p, checkDSPGuards(at, d)...)
	}
	return p
}

// ParseProxy parses outbox.proxy: an http, https, socks5 or socks5h URL
// with a host and nothing after it but a slash.
func ParseProxy(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", redactURL(raw))
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("%q: the scheme must be http, https, socks5 or socks5h", redactURL(raw))
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must be scheme://host:port, without a path or query", redactURL(raw))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q has a bad port", redactURL(raw))
		}
	}
	return u, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validateRetention checks retention against what it must never drop:
// the events of a win that can still be viewed (or a repeated view would
// be billed again) and the reports of payments.window.
func (c *Config) validateRetention() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	r := c.Retention
	iv := r.PartitionInterval
	if iv < time.Hour || iv > 31*24*time.Hour || iv%time.Hour != 0 {
		add("retention.partition_interval: %s must be whole hours from 1h to 744h", iv)
	}
	if c.Events.MaxViewAge <= 0 {
		add("events.max_view_age: must be positive")
	}
	if r.Wins < time.Hour {
		add("retention.wins: %s is shorter than 1h", r.Wins)
	} else if r.Wins < c.Events.MaxViewAge {
		add("retention.wins: %s is shorter than events.max_view_age (%s): wins would be gone before their views stop being billed", r.Wins, c.Events.MaxViewAge)
	}
	if r.Events < r.Wins+iv {
		add("retention.events: %s must be at least retention.wins + retention.partition_interval (%s): a view of a kept win must find the win's earlier views", r.Events, r.Wins+iv)
	}
	if r.Events < c.Payments.Window+c.Payments.Period+c.Payments.SettleAfter {
		add("retention.events: %s must cover payments.window + payments.period + payments.settle_after (%s): the details of listed reports are never dropped",
			r.Events, c.Payments.Window+c.Payments.Period+c.Payments.SettleAfter)
	}
	if r.CheckInterval < time.Second || r.CheckInterval > iv {
		add("retention.check_interval: %s must be from 1s to retention.partition_interval", r.CheckInterval)
	}
	return p
}

// winPool is the connections wins are stored on: win_conns, or every one
// when none are reserved.
func (c *Config) winPool() int32 {
	if c.Database.WinConns > 0 {
		return c.Database.WinConns
	}
	return c.Database.MaxConns
}
