// Package macros substitutes the OpenRTB auction macros (${AUCTION_PRICE} and
// friends) in nurl/burl/lurl notice URLs and in markup, in their plain and
// URL-encoded forms.
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
	// Loss is ${AUCTION_LOSS}: the OpenRTB loss reason code of a losing bid
	// (102 lost to a higher bid, ...), for its lurl; "" elsewhere.
	Loss string
	// MinToWin is ${AUCTION_MIN_TO_WIN}: the lowest price that would have
	// won, in the bid's currency, for a lurl; "" elsewhere.
	MinToWin string
}

// Expand replaces every macro in u. Values are query-escaped, since notice
// URLs put them in query strings. Unknown macros are left alone; a known
// macro without a value (${AUCTION_LOSS} in a nurl) becomes "".
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
		{"AUCTION_LOSS", v.Loss},
		{"AUCTION_MIN_TO_WIN", v.MinToWin},
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
