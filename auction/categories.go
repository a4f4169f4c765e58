package auction

import "strings"

// siteCategories maps the AdUser site categories (its taxonomy, the values
// of keywords.site.category) to IAB Content Taxonomy 1.0 codes, the
// taxonomy OpenRTB 2.5 and 2.6 assume when cattax is not sent. A category
// not listed (unknown, paytoclick, anything a newer AdUser adds) maps to
// nothing: a wrong category is worse for a DSP than none. The README's
// field table shows the same mapping.
var siteCategories = map[string][]string{
	"adult":       {"IAB25", "IAB25-3"}, // Non-Standard Content: Pornography
	"crypto":      {"IAB13", "IAB13-7"}, // Personal Finance: Investing
	"faucets":     {"IAB13"},            // crypto faucets: Personal Finance
	"others":      {"IAB13"},            // crypto, other: Personal Finance
	"games":       {"IAB9", "IAB9-30"},  // Hobbies & Interests: Video & Computer Games
	"health":      {"IAB7"},             // Health & Fitness
	"supplements": {"IAB7"},
	"diets":       {"IAB7"},
	"lifestyle":   {"IAB14"},          // Society (as the MoPub-style document maps Lifestyle)
	"movies":      {"IAB1", "IAB1-5"}, // Arts & Entertainment: Movies
	"music":       {"IAB1", "IAB1-6"}, // Arts & Entertainment: Music
	"news":        {"IAB12"},          // News
	"technology":  {"IAB19"},          // Technology & Computing
}

// iabCategories maps AdUser site categories to IAB codes, each code once,
// in the order first seen.
func iabCategories(aduser []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range aduser {
		for _, code := range siteCategories[strings.ToLower(strings.TrimSpace(c))] {
			if !seen[code] {
				seen[code] = true
				out = append(out, code)
			}
		}
	}
	return out
}
