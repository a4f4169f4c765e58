// Package testcfg builds the valid bridge configurations the tests of
// several packages share: one campaign with three creatives of different
// shapes, and DSP entries with the defaults config.Load would fill in.
package testcfg

import (
	"time"

	"github.com/adshares/dsp-bridge/config"
)

// Ids and addresses of the shared test configuration.
const (
	CreativePNG   = "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b" // image/png 300x250
	CreativeJPEG  = "0c1d2e3f405162738495a6b7c8d9eaf0" // image/jpeg 728x90
	CreativeVideo = "a1b2c3d4e5f60718293a4b5c6d7e8f90" // video/mp4 640x360
	CampaignID    = "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50"
	BridgeAddr    = "0001-00000003-AB0C"
	BaseURL       = "http://127.0.0.1:8015"
)

func boolp(b bool) *bool { return &b }

// Config is a valid bridge config with the given DSPs and a breaker that
// stays out of the way unless a test turns it on.
func Config(dsps ...config.DSP) *config.Config {
	return &config.Config{
		Listen: "127.0.0.1:8015", BaseURL: BaseURL,
		Server:   config.Server{MaxBodyBytes: 64 << 10, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, ShutdownTimeout: time.Second},
		Adshares: config.Adshares{Address: BridgeAddr},
		Database: config.Database{WinCommitDelay: 500 * time.Microsecond}, // the default
		Auction: config.Auction{TMax: time.Second, MaxConcurrent: 64, BidFloor: "0", ImpExp: 24 * time.Hour,
			Breaker: config.Breaker{Enabled: boolp(false), Failures: 5, OpenFor: 10 * time.Second, HalfOpenRequests: 1}},
		Money: config.Money{AdsUSD: "0.05", Rates: map[string]string{"KRW": "0.00075", "EUR": "1.08"}},
		Inventory: config.Inventory{
			Classifier: "0001000000081a67",
			Keywords:   map[string][]string{"category": {"unknown"}, "quality": {"high"}},
			Campaigns: []config.Campaign{{
				ID: CampaignID, Budget: config.DefaultCampaignBudget, MaxCPM: config.DefaultCampaignMaxCPM, LandingURL: BaseURL,
				Creatives: []config.Creative{
					{ID: CreativePNG, Type: "image", Mime: "image/png", Size: "300x250"},
					{ID: CreativeJPEG, Type: "image", Mime: "image/jpeg", Size: "728x90"},
					{ID: CreativeVideo, Type: "video", Mime: "video/mp4", Size: "640x360"},
				},
			}},
		},
		DSPs:        dsps,
		SupplyChain: config.SupplyChain{Complete: 1},
		Traffic:     config.Traffic{MinHumanScore: 0.4},
	}
}

// DSP is a DSP entry with the defaults config.Load would fill in, and its
// breaker off.
func DSP(name, endpoint string) config.DSP {
	// Test DSPs and their notice endpoints live on loopback, which the
	// outbound policy refuses unless allowed, as an operator allows a DSP on
	// a private link.
	return config.DSP{Name: name, Endpoint: endpoint, Timeout: 800 * time.Millisecond, Dialect: "2.6", Currency: "USD",
		AllowNetworks: []string{"127.0.0.0/8"},
		MaxConns:      64, PriceMissing: config.PriceMissingReject, TMaxAllowance: config.DefaultDSPTMaxAllowance, MaxBidsPerImp: config.DefaultDSPMaxBidsPerImp,
		Breaker: config.Breaker{Enabled: boolp(false), Failures: 5, OpenFor: 10 * time.Second, HalfOpenRequests: 1}}
}

// Breaker is an enabled breaker opening after failures consecutive
// failures for openFor.
func Breaker(failures uint32, openFor time.Duration) config.Breaker {
	return config.Breaker{Enabled: boolp(true), Failures: failures, OpenFor: openFor, HalfOpenRequests: 1}
}
