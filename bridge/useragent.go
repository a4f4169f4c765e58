package bridge

import (
	"regexp"
	"strings"
	"sync"
)

var (
	windowsRe = regexp.MustCompile(`Windows NT (\d+\.\d+)`)
	androidRe = regexp.MustCompile(`Android (\d+(?:\.\d+)*)(?:; ([^;)]+?))?(?: Build/[^;)]*)?[;)]`)
	iosRe     = regexp.MustCompile(`(iPhone|iPad|iPod)(?:;| touch;).*? OS (\d+(?:_\d+)*) like Mac OS X`)
	macRe     = regexp.MustCompile(`Mac OS X (\d+(?:[_.]\d+)*)`)
)

// windowsVersions maps Windows NT kernel versions to the product versions
// DSPs target ("NT 10.0" is also Windows 11: the UA does not tell them apart).
var windowsVersions = map[string]string{"10.0": "10", "6.3": "8.1", "6.2": "8", "6.1": "7", "6.0": "Vista", "5.1": "XP"}

// modelMakes are the model prefixes whose maker a UA implies.
var modelMakes = []struct{ prefix, make string }{
	{"SM-", "Samsung"}, {"GT-", "Samsung"}, {"Pixel", "Google"}, {"Nexus", "Google"}, {"Redmi", "Xiaomi"}, {"moto", "Motorola"},
}

// uaDevice is what a user agent says of the device: OS, its version, the
// maker and the model, each "" where the UA does not say. Only the forms of
// real browsers are read; anything else says nothing.
type uaDevice struct{ os, osv, make, model string }

// uaCache keeps what recent user agents said: a site's visitors send a few
// hundred distinct ones, and reading one takes several regexp matches.
// It is emptied when full, so a flood of distinct ones costs only misses.
var uaCache = struct {
	sync.RWMutex
	m map[string]uaDevice
}{m: map[string]uaDevice{}}

const (
	uaCacheEntries = 4096
	uaCacheMaxLen  = 512 // longer user agents are read every time
)

// parseUserAgent is readUserAgent through uaCache.
func parseUserAgent(ua string) uaDevice {
	uaCache.RLock()
	d, ok := uaCache.m[ua]
	uaCache.RUnlock()
	if ok {
		return d
	}
	d = readUserAgent(ua)
	if len(ua) <= uaCacheMaxLen {
		uaCache.Lock()
		if len(uaCache.m) >= uaCacheEntries {
			uaCache.m = make(map[string]uaDevice, uaCacheEntries)
		}
		uaCache.m[ua] = d
		uaCache.Unlock()
	}
	return d
}

func readUserAgent(ua string) uaDevice {
	var d uaDevice
	switch {
	case strings.Contains(ua, "Windows Phone"):
		d.os = "Windows Phone"
	case windowsRe.MatchString(ua):
		d.os = "Windows"
		d.osv = windowsVersions[windowsRe.FindStringSubmatch(ua)[1]]
	case iosRe.MatchString(ua):
		m := iosRe.FindStringSubmatch(ua)
		d.os, d.osv, d.make, d.model = "iOS", strings.ReplaceAll(m[2], "_", "."), "Apple", m[1]
	case androidRe.MatchString(ua):
		m := androidRe.FindStringSubmatch(ua)
		d.os, d.osv = "Android", m[1]
		// Reduced user agents (Chrome 110+) say "K" instead of the model.
		if model := strings.TrimSpace(m[2]); model != "" && model != "K" && !strings.Contains(model, "Linux") {
			d.model = model
			for _, mm := range modelMakes {
				if strings.HasPrefix(model, mm.prefix) {
					d.make = mm.make
				}
			}
		}
	case strings.Contains(ua, "Macintosh") && macRe.MatchString(ua):
		d.os, d.make = "macOS", "Apple"
		d.osv = strings.ReplaceAll(macRe.FindStringSubmatch(ua)[1], "_", ".")
	case strings.Contains(ua, "CrOS"):
		d.os = "Chrome OS"
	case strings.Contains(ua, "Linux"):
		d.os = "Linux"
	}
	return d
}
