package bridge

import (
	"regexp"
	"strings"
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

func parseUserAgent(ua string) uaDevice {
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
