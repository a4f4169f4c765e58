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
	// Most URLs are canonical already (${AUCTION_PRICE}): the builder is
	// only started at the first rewrite, so those come back as they are,
	// without a copy.
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		// Only a '{', '$' or '%' can start a form to rewrite: skip the
		// text up to the next one at once.
		j := strings.IndexAny(s[i:], "{$%")
		if j < 0 {
			break
		}
		i += j
		ins, skip := rewriteAt(s, i)
		if ins != "" {
			if done == 0 {
				b.Grow(len(s) + 16)
			}
			b.WriteString(s[done:i])
			b.WriteString(ins)
			done = i + skip
		}
		i++
	}
	if b.Len() == 0 && done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// rewriteAt is what Canonical puts at s[i] (a '{', '$' or '%'): the text
// to insert ("" for none) and how many bytes of s it replaces.
func rewriteAt(s string, i int) (string, int) {
	rest := s[i:]
	switch {
	case strings.HasPrefix(rest, "{AUCTION_") && (i == 0 || s[i-1] != '$'):
		return "$", 0
	case strings.HasPrefix(rest, "$%7BAUCTION_") || strings.HasPrefix(rest, "$%7bAUCTION_"):
		// ${...} with only the braces escaped (JavaScript's encodeURI,
		// Go's url.URL.String): the "$" would survive expansion.
		return "%24", 1
	case (strings.HasPrefix(rest, "%7BAUCTION_") || strings.HasPrefix(rest, "%7bAUCTION_")) &&
		(i == 0 || s[i-1] != '$') && (i < 3 || !strings.EqualFold(s[i-3:i], "%24")):
		return "%24", 0
	}
	return "", 0
}

// ExpandAll substitutes every macro form the field documents use — ${NAME},
// {NAME}, and their URL-encoded forms — in a URL or in markup (adm).
func ExpandAll(s string, v Values) string { return Expand(Canonical(s), v) }
