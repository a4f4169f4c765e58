package auction

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// bidResponse is the part of an OpenRTB BidResponse the bridge reads. It is
// our own type rather than openrtb2.BidResponse because real DSPs send `cur`
// as a string or an array and prices as numbers or strings (2.5 quirks).
type bidResponse struct {
	ID      laxjson.String `json:"id"` // lax DSPs send ids as numbers
	SeatBid []seatBid      `json:"seatbid"`
	BidID   laxjson.String `json:"bidid"`
	Cur     flexCur        `json:"cur"`
	NBR     int            `json:"nbr"`
}

type seatBid struct {
	Bid   []bid          `json:"bid"`
	Seat  laxjson.String `json:"seat"`
	Group int            `json:"group"`
}

type bid struct {
	ID      string          `json:"id"`
	ImpID   string          `json:"impid"`
	Price   json.Number     `json:"price"`
	AdID    string          `json:"adid"`
	NURL    string          `json:"nurl"`
	BURL    string          `json:"burl"`
	LURL    string          `json:"lurl"`
	AdM     string          `json:"adm"`
	ADomain []string        `json:"adomain"`
	CrID    string          `json:"crid"`
	CID     string          `json:"cid"`
	Ext     json.RawMessage `json:"ext"`
	// Decoded leniently in UnmarshalJSON: a bad one rejects only this bid
	// (problem says why), never the whole answer.
	Cat              []string `json:"-"`
	Attr             []int64  `json:"-"`
	W, H, MType, Exp int64    `json:"-"`
	problem          string
}

// UnmarshalJSON reads a bid like the struct tags say, but also takes the
// ids as numbers, adomain as one string and any price text: lax DSPs echo
// our numeric-looking imp ids ("0", "1") as numbers or send "price": "",
// and one such field must not void every bid of the answer. A bad price
// rejects only its own bid (priceMicros).
func (b *bid) UnmarshalJSON(data []byte) error {
	type plain bid
	w := struct {
		*plain
		ID      laxjson.String  `json:"id"`
		ImpID   laxjson.String  `json:"impid"`
		AdID    laxjson.String  `json:"adid"`
		CrID    laxjson.String  `json:"crid"`
		CID     laxjson.String  `json:"cid"`
		ADomain laxjson.Strings `json:"adomain"`
		Price   laxjson.String  `json:"price"` // checked by priceMicros, per bid
		Cat     json.RawMessage `json:"cat"`
		Attr    json.RawMessage `json:"attr"`
		W       json.RawMessage `json:"w"`
		H       json.RawMessage `json:"h"`
		MType   json.RawMessage `json:"mtype"`
		Exp     json.RawMessage `json:"exp"`
		AdM     json.RawMessage `json:"adm"` // a string; native as an object costs only this bid (unrenderable)
	}{plain: (*plain)(b)}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	b.ID, b.ImpID, b.AdID, b.CrID, b.ADomain = string(w.ID), string(w.ImpID), string(w.AdID), string(w.CrID), w.ADomain
	b.CID = string(w.CID)
	b.Price = json.Number(w.Price)
	b.problem = b.decodeDetails(w.Cat, w.Attr, w.W, w.H, w.MType, w.Exp)
	b.AdM = ""
	if adm := bytes.TrimSpace(w.AdM); len(adm) > 0 && adm[0] == '"' {
		if err := json.Unmarshal(adm, &b.AdM); err != nil {
			return err
		}
	} else if len(adm) > 0 && string(adm) != "null" {
		b.AdM = string(adm)
	}
	return nil
}

// flexCur is a currency sent as "USD" or ["USD"].
type flexCur string

func (c *flexCur) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*c = ""
	case len(b) > 0 && b[0] == '[':
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		if len(l) > 0 {
			*c = flexCur(l[0])
		}
	default:
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = flexCur(s)
	}
	return nil
}

// TooManyBidsError is an answer with more bids than the auction considers
// (imps × dsps[].max_bids_per_imp): it is refused whole, before any bid is
// decoded or validated, so a flood of bids costs a scan of its first bids.
type TooManyBidsError struct{ Max int }

func (e *TooManyBidsError) Error() string {
	return fmt.Sprintf("more than %d bids (imps × max_bids_per_imp)", e.Max)
}

// wireResponse is an answer as first decoded: each seat's bids are kept as
// raw bytes and counted, so the bound is decided before per-bid work.
type wireResponse struct {
	ID      laxjson.String `json:"id"`
	SeatBid []wireSeatBid  `json:"seatbid"`
	BidID   laxjson.String `json:"bidid"`
	Cur     flexCur        `json:"cur"`
	NBR     int            `json:"nbr"`
}

type wireSeatBid struct {
	Bid   rawBids        `json:"bid"`
	Seat  laxjson.String `json:"seat"`
	Group int            `json:"group"`
}

// rawBids is a bid array kept undecoded, with its element count.
type rawBids struct {
	raw []byte
	n   int
}

// UnmarshalJSON keeps a copy of the array and counts its elements; null is
// an empty list.
func (r *rawBids) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*r = rawBids{}
		return nil
	}
	if len(b) == 0 || b[0] != '[' {
		return fmt.Errorf("seatbid.bid: want an array, got %s", laxjson.Kind(b))
	}
	*r = rawBids{raw: bytes.Clone(b), n: countElements(b)}
	return nil
}

// countElements counts the elements of a JSON array that encoding/json has
// already checked for validity: one more than the commas at depth one
// outside strings, or none for [].
func countElements(arr []byte) int {
	i := 1 // past the '['
	for i < len(arr) && (arr[i] == ' ' || arr[i] == '\t' || arr[i] == '\n' || arr[i] == '\r') {
		i++
	}
	if i >= len(arr) || arr[i] == ']' {
		return 0
	}
	n, depth, inString := 1, 1, false
	for ; i < len(arr); i++ {
		switch c := arr[i]; {
		case inString && c == '\\':
			i++ // the escaped byte
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 1:
			n++
		}
	}
	return n
}

// parseBidResponse decodes an answer of at most maxBids bids (maxBids <= 0:
// no bound). It returns nil, nil for every no-bid form: an empty body, {},
// no or empty seatbid, or only an nbr; a *TooManyBidsError for an answer
// over the bound. The answer is read in one pass (fastBidResponse); one
// that pass does not take goes through encoding/json (parseBidResponseStd),
// which also words every error.
func parseBidResponse(body []byte, maxBids int) (*bidResponse, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	// The quick look stops at the first bid over the bound; the exact count
	// below (after the whole answer is checked) catches what it cannot see,
	// such as escaped key names.
	if maxBids > 0 && moreBidsThan(body, maxBids) {
		return nil, &TooManyBidsError{Max: maxBids}
	}
	if r, err, ok := fastBidResponse(body, maxBids); ok {
		return r, err
	}
	return parseBidResponseStd(body, maxBids)
}

// parseBidResponseStd is the reference decoder of an answer that passed the
// quick bound check: encoding/json through the lax types. fastBidResponse
// must give exactly its result.
func parseBidResponseStd(body []byte, maxBids int) (*bidResponse, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("malformed answer: %s", laxjson.Problem(err))
	}
	n := 0
	for _, sb := range w.SeatBid {
		n += sb.Bid.n
	}
	if n == 0 {
		if w.NBR != 0 {
			return &bidResponse{NBR: w.NBR}, nil
		}
		return nil, nil
	}
	if maxBids > 0 && n > maxBids {
		return nil, &TooManyBidsError{Max: maxBids}
	}
	r := &bidResponse{ID: w.ID, BidID: w.BidID, Cur: w.Cur, NBR: w.NBR, SeatBid: make([]seatBid, 0, len(w.SeatBid))}
	for _, wsb := range w.SeatBid {
		sb := seatBid{Seat: wsb.Seat, Group: wsb.Group}
		if wsb.Bid.n > 0 {
			if err := json.Unmarshal(wsb.Bid.raw, &sb.Bid); err != nil {
				return nil, fmt.Errorf("malformed answer: %s", laxjson.Problem(err))
			}
		}
		r.SeatBid = append(r.SeatBid, sb)
	}
	return r, nil
}
