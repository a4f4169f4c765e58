package ads

import "time"

// ATOM is PHP's DATE_ATOM layout as the AdServer parses it (ADSERVER-BRIDGE
// §4.4): an offset of +00:00, never Z, and no fractional seconds.
const ATOM = "2006-01-02T15:04:05-07:00"

// FormatATOM formats t in UTC as 2023-03-17T16:04:33+00:00. It is the one
// formatter of every timestamp the AdServer reads.
func FormatATOM(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") + "+00:00" }

// ParseATOM parses an ATOM timestamp.
func ParseATOM(s string) (time.Time, error) { return time.Parse(ATOM, s) }
