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
	// One pass, left to right, like a strings.Replacer of the 27 forms (no
	// form is a prefix of another, so at most one matches at a position),
	// without building one per call: this runs for every bid's notices.
	vals := [len(names)]string{v.Price, v.AuctionID, v.BidID, v.ImpID, v.SeatID, v.AdID, v.Currency, v.Loss, v.MinToWin}
	var escaped [len(names)]bool
	var b strings.Builder
	b.Grow(len(u) + 32)
	for i := 0; i < len(u); {
		j := strings.IndexAny(u[i:], "$%")
		if j < 0 {
			b.WriteString(u[i:])
			break
		}
		b.WriteString(u[i : i+j])
		i += j
		if k, n := macroAt(u[i:]); n > 0 {
			if !escaped[k] {
				vals[k], escaped[k] = url.QueryEscape(vals[k]), true
			}
			b.WriteString(vals[k])
			i += n
			continue
		}
		b.WriteByte(u[i])
		i++
	}
	return b.String()
}

// names are the macros Expand knows, in the order of its values.
var names = [...]string{"AUCTION_PRICE", "AUCTION_ID", "AUCTION_BID_ID", "AUCTION_IMP_ID", "AUCTION_SEAT_ID",
	"AUCTION_AD_ID", "AUCTION_CURRENCY", "AUCTION_LOSS", "AUCTION_MIN_TO_WIN"}

// macroAt finds a known macro at the start of s: ${NAME}, %24%7BNAME%7D or
// %24%7bNAME%7d. It returns the name's index and the macro's length, 0 if
// none.
func macroAt(s string) (k, n int) {
	var open, shut string
	switch {
	case strings.HasPrefix(s, "${"):
		open, shut = "${", "}"
	case strings.HasPrefix(s, "%24%7B"):
		open, shut = "%24%7B", "%7D"
	case strings.HasPrefix(s, "%24%7b"):
		open, shut = "%24%7b", "%7d"
	default:
		return 0, 0
	}
	rest := s[len(open):]
	for k, name := range names {
		if strings.HasPrefix(rest, name) && strings.HasPrefix(rest[len(name):], shut) {
			return k, len(open) + len(name) + len(shut)
		}
	}
	return 0, 0
}
