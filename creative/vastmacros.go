package creative

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ExpandVASTMacros substitutes the VAST macros a server-side fetch can fill
// honestly: [CACHEBUSTING] (8 random digits) and [TIMESTAMP] (ISO 8601),
// plain or URL-encoded. The others ([ERRORCODE], [CONTENTPLAYHEAD], ...) stay
// as they are. Use it on wrapper URIs and on VAST trackers when firing them.
func ExpandVASTMacros(u string, now time.Time) string {
	if !strings.Contains(u, "[") && !strings.Contains(u, "%5B") && !strings.Contains(u, "%5b") {
		return u
	}
	cb := strconv.Itoa(10000000 + rand.IntN(90000000))
	ts := url.QueryEscape(now.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	var args []string
	for name, val := range map[string]string{"CACHEBUSTING": cb, "TIMESTAMP": ts} {
		args = append(args, "["+name+"]", val, "%5B"+name+"%5D", val, "%5b"+name+"%5d", val)
	}
	return strings.NewReplacer(args...).Replace(u)
}

func itoa(n int) string { return strconv.Itoa(n) }
