package adserversim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// sites are the pages the simulated publishers run; some have non-ASCII
// keywords so that the \uXXXX escaping reaches the bridge.
var sites = []struct {
	domain, parent, path, category string
	keywords                       []string
}{
	{"news.example.org", "example.org", "/articles/", "news", []string{"politics", "world"}},
	{"blog.example.com", "example.com", "/posts/", "technology", []string{"golang", "ad-tech"}},
	{"sport.example.net", "example.net", "/match/", "sports", []string{"football", "liga"}},
	{"kuchnia.example.pl", "example.pl", "/przepisy/", "food", []string{"żurek", "pierogi", "zupa ogórkowa"}},
	{"wetter.example.de", "example.de", "/vorhersage/", "weather", []string{"München", "Straße"}},
	{"jeux.example.fr", "example.fr", "/jeux/", "games", []string{"échecs", "énigmes"}},
}

var userAgents = []struct{ ua, device, os, browser string }{
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "desktop", "linux", "chrome"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", "desktop", "windows", "firefox"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "desktop", "mac", "safari"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "mobile", "ios", "safari"},
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "mobile", "android", "chrome"},
}

var countries = []struct{ country, language string }{
	{"us", "en"}, {"gb", "en"}, {"pl", "pl"}, {"de", "de"}, {"fr", "fr"}, {"jp", "ja"},
}

// RandomID returns 32 lowercase hex characters, like the AdServer's ids.
func RandomID(r *rand.Rand) string {
	return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
}

// RandomImpression makes a realistic /bid context (§8.1): a publisher page,
// an IPv4 or (one in four) IPv6 client from documentation ranges, a browser
// user agent, and an AdUser keyword tree with human_score and page_rank.
// About one user in ten is unknown to AdUser (uid "").
func RandomImpression(r *rand.Rand) Impression {
	s := sites[r.IntN(len(sites))]
	ua := userAgents[r.IntN(len(userAgents))]
	geo := countries[r.IntN(len(countries))]
	page := fmt.Sprintf("https://%s%s%d", s.domain, s.path, r.IntN(100000))
	var ip string
	if r.IntN(4) == 0 {
		a := netip.MustParseAddr("2001:db8::").As16()
		for i := 8; i < 16; i++ {
			a[i] = byte(r.IntN(256))
		}
		ip = netip.AddrFrom16(a).String()
	} else {
		nets := [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}
		n := nets[r.IntN(len(nets))]
		ip = fmt.Sprintf("%d.%d.%d.%d", n[0], n[1], n[2], 1+r.IntN(254))
	}
	uid := RandomID(r)
	if r.IntN(10) == 0 {
		uid = ""
	}
	keywords := Obj{
		{"user", Obj{{"language", []string{geo.language}}, {"country", geo.country}}},
		{"device", Obj{{"type", ua.device}, {"os", ua.os}, {"browser", ua.browser}, {"crawler", false}}},
		{"site", Obj{{"domain", []string{s.domain, s.parent}}, {"category", []string{s.category}}, {"quality", "high"}, {"keywords", s.keywords}}},
		{"human_score", []float64{float64(50+r.IntN(50)) / 100}},
		{"page_rank", []float64{float64(r.IntN(100)) / 100}},
	}
	referrer := ""
	if r.IntN(3) == 0 {
		referrer = "https://search.example/?q=" + s.category
	}
	return Impression{
		Site:   Site{Domain: s.domain, Page: page, Referrer: referrer},
		Device: Device{IP: ip, Referer: page, UserAgent: ua.ua, Metamask: r.IntN(2)},
		User:   User{UID: uid, Keywords: keywords},
	}
}

// RandomEvent makes the browser's side of a view or click of an ad shown
// on imp's page: fresh impression and case ids, a zone and a publisher.
func RandomEvent(r *rand.Rand, imp Impression) Event {
	frame := r.IntN(2)
	return Event{
		ImpressionID: RandomID(r),
		ZoneID:       RandomID(r),
		CaseID:       RandomID(r),
		PublisherID:  RandomID(r),
		Page: Page{
			URL:      imp.Site.Page,
			Ref:      imp.Site.Referrer,
			Keywords: imp.Site.Domain,
			Metamask: 0,
			Frame:    &frame,
		},
	}
}
