package macros

import "strings"

// Canonical rewrites the OpenRTB macros written without the leading "$"
// ({AUCTION_PRICE}, as MezzoMedia-style 2.5 DSPs write them) and the partly
// URL-encoded forms ($%7BAUCTION_PRICE%7D, %7BAUCTION_PRICE%7D) into the
// ${...} / %24%7B...%7D forms that Expand substitutes. Macros stay
// unexpanded; text without "AUCTION_" is returned as it is.
func Canonical(s string) string {
	if !strings.Contains(s, "AUCTION_") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		// Only a '{', '$' or '%' can start a form to rewrite: copy the
		// text up to the next one at once.
		j := strings.IndexAny(s[i:], "{$%")
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "{AUCTION_") && (i == 0 || s[i-1] != '$'):
			b.WriteString("$")
		case strings.HasPrefix(rest, "$%7BAUCTION_") || strings.HasPrefix(rest, "$%7bAUCTION_"):
			// ${...} with only the braces escaped (JavaScript's encodeURI,
			// Go's url.URL.String): the "$" would survive expansion.
			b.WriteString("%24")
			i++
			continue
		case (strings.HasPrefix(rest, "%7BAUCTION_") || strings.HasPrefix(rest, "%7bAUCTION_")) &&
			(i == 0 || s[i-1] != '$') && (i < 3 || !strings.EqualFold(s[i-3:i], "%24")):
			b.WriteString("%24")
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// ExpandAll substitutes every macro form the field documents use — ${NAME},
// {NAME}, and their URL-encoded forms — in a URL or in markup (adm).
func ExpandAll(s string, v Values) string { return Expand(Canonical(s), v) }
