package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prebid/openrtb/v20/adcom1"

	"github.com/adshares/dsp-bridge/auction"
)

func TestParseUserAgent(t *testing.T) {
	cases := map[string]uaDevice{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36": {os: "Windows", osv: "10"},
		"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko":                                            {os: "Windows", osv: "7"},
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1": {
			os: "iOS", osv: "17.4", make: "Apple", model: "iPhone"},
		"Mozilla/5.0 (iPad; CPU OS 16_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1": {
			os: "iOS", osv: "16.6.1", make: "Apple", model: "iPad"},
		"Mozilla/5.0 (Linux; Android 9; SM-G955N Build/PPR1.180610.011; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/105.0.5195.79 Mobile Safari/537.36": {
			os: "Android", osv: "9", make: "Samsung", model: "SM-G955N"},
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36": {os: "Android", osv: "10"},
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36": {
			os: "Android", osv: "14", make: "Google", model: "Pixel 8"},
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15": {
			os: "macOS", osv: "10.15.7", make: "Apple"},
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36": {os: "Chrome OS"},
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0":                                         {os: "Linux"},
		"curl/8.4.0": {},
		"":           {},
	}
	for ua, want := range cases {
		// Twice: the second answer comes from the cache.
		for range 2 {
			if got := parseUserAgent(ua); got != want {
				t.Errorf("parseUserAgent(%q) = %+v, want %+v", ua, got, want)
			}
		}
	}
}

// A full cache is emptied, not grown, and still answers right.
func TestUserAgentCacheIsBounded(t *testing.T) {
	android := "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36"
	want := readUserAgent(android)
	for i := range uaCacheEntries + 10 {
		parseUserAgent(android + strings.Repeat(" ", i%600))
	}
	uaCache.RLock()
	n := len(uaCache.m)
	uaCache.RUnlock()
	if n > uaCacheEntries {
		t.Fatalf("%d cached user agents, more than %d", n, uaCacheEntries)
	}
	if got := parseUserAgent(android); got != want || want.make != "Samsung" {
		t.Fatalf("parseUserAgent = %+v, want %+v", got, want)
	}
}

func TestKeywordsToTypedFields(t *testing.T) {
	cases := []struct {
		name, kw string
		check    func(s auction.Site, d auction.Device, u auction.User) bool
	}{
		{"crawler true", `{"device":{"crawler":true}}`, func(_ auction.Site, d auction.Device, _ auction.User) bool { return d.Crawler }},
		{"crawler as PHP 1", `{"device":{"crawler":1}}`, func(_ auction.Site, d auction.Device, _ auction.User) bool { return d.Crawler }},
		{"human score list", `{"human_score":[0.25]}`, func(_ auction.Site, _ auction.Device, u auction.User) bool {
			return u.HumanScore != nil && *u.HumanScore == 0.25
		}},
		{"human score string", `{"human_score":"0.5"}`, func(_ auction.Site, _ auction.Device, u auction.User) bool {
			return u.HumanScore != nil && *u.HumanScore == 0.5
		}},
		{"human score out of range", `{"human_score":[7]}`, func(_ auction.Site, _ auction.Device, u auction.User) bool { return u.HumanScore == nil }},
		{"human score garbage", `{"human_score":{"a":1}}`, func(_ auction.Site, _ auction.Device, u auction.User) bool { return u.HumanScore == nil }},
		{"categories one string", `{"site":{"category":"News"}}`, func(s auction.Site, _ auction.Device, _ auction.User) bool {
			return len(s.Categories) == 1 && s.Categories[0] == "news"
		}},
		{"apple os on a phone is iOS", `{"device":{"type":"mobile","os":"apple-os"}}`, func(_ auction.Site, d auction.Device, _ auction.User) bool {
			return d.OS == "iOS" && d.Type == adcom1.DevicePhone
		}},
		{"apple os on a desktop is macOS", `{"device":{"type":"desktop","os":"apple-os"}}`, func(_ auction.Site, d auction.Device, _ auction.User) bool { return d.OS == "macOS" }},
		{"unix names no OS", `{"device":{"os":"unix","browser":"other"}}`, func(_ auction.Site, d auction.Device, _ auction.User) bool { return d.OS == "" && d.Browser == "" }},
	}
	for _, c := range cases {
		var s auction.Site
		var d auction.Device
		var u auction.User
		applyKeywords(json.RawMessage(c.kw), &s, &d, &u)
		if !c.check(s, d, u) {
			t.Errorf("%s: site %+v device %+v user %+v", c.name, s, d, u)
		}
	}
	// The user agent's OS wins over the keywords' family.
	call, err := ParseBidCall([]byte(`{"context":{"site":{"inframe":"yes","keywords":{"a":{}}},"device":{"headers":{"user-agent":["Mozilla\/5.0 (Windows NT 10.0; Win64; x64)"],"DNT":["1"]}},"user":{"keywords":{"device":{"os":"android"}}}},"requests":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if call.Device.OS != "Windows" || call.Device.DNT == nil || !*call.Device.DNT || call.Site.InFrame == nil || !*call.Site.InFrame || call.Site.Keywords != nil {
		t.Fatalf("call %+v", call)
	}
}
