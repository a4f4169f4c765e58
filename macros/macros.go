// Package macros substitutes the OpenRTB auction macros (${AUCTION_PRICE} and
// friends) in nurl/burl notice URLs, in their plain and URL-encoded forms.
package macros

import (
	"net/url"
	"strings"
)

// Values are what the macros expand to.
type Values struct {
	AuctionID string // ${AUCTION_ID}: BidRequest.id
	BidID     string // ${AUCTION_BID_ID}: Bid.id (or BidResponse.bidid)
	ImpID     string // ${AUCTION_IMP_ID}
	SeatID    string // ${AUCTION_SEAT_ID}
	AdID      string // ${AUCTION_AD_ID}
	Price     string // ${AUCTION_PRICE}: clearing price in the bid currency
	Currency  string // ${AUCTION_CURRENCY}
}

// Expand replaces every macro in u. Values are query-escaped, since notice
// URLs put them in query strings. Unknown macros are left alone.
func Expand(u string, v Values) string {
	if !strings.Contains(u, "${") && !strings.Contains(u, "%24%7B") && !strings.Contains(u, "%24%7b") {
		return u
	}
	pairs := []struct{ name, val string }{
		{"AUCTION_PRICE", v.Price},
		{"AUCTION_ID", v.AuctionID},
		{"AUCTION_BID_ID", v.BidID},
		{"AUCTION_IMP_ID", v.ImpID},
		{"AUCTION_SEAT_ID", v.SeatID},
		{"AUCTION_AD_ID", v.AdID},
		{"AUCTION_CURRENCY", v.Currency},
	}
	args := make([]string, 0, len(pairs)*6)
	for _, p := range pairs {
		esc := url.QueryEscape(p.val)
		args = append(args,
			"${"+p.name+"}", esc,
			"%24%7B"+p.name+"%7D", esc,
			"%24%7b"+p.name+"%7d", esc,
		)
	}
	return strings.NewReplacer(args...).Replace(u)
}
