package auction

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/adshares/dsp-bridge/internal/laxjson"
)

// fastBidResponse reads an answer (already trimmed, non-empty, past the
// quick bound check) in one pass over its bytes, with the tolerances of
// parseBidResponseStd and its exact result. ok is false for any answer it
// does not read exactly that way (malformed JSON, a field of the wrong
// type, a duplicate or differently cased key, a null bid, more bids than
// maxBids, ...): parseBidResponse then hands the answer to
// parseBidResponseStd, which decides and words the error. Nothing of the
// result aliases body (a pooled buffer). FuzzFastBidResponse checks the
// two agree.
func fastBidResponse(body []byte, maxBids int) (r *bidResponse, err error, ok bool) {
	if len(body) == 0 || body[0] != '{' {
		return nil, nil, false
	}
	var out bidResponse
	n := 0
	var seen uint8
	end, ok := laxjson.EachMember(body, 0, func(key []byte, j int) (int, bool) {
		var end int
		var ok bool
		var s string
		switch string(key) {
		case "id":
			if !once(&seen, 1) {
				return j, false
			}
			s, end, ok = laxjson.LaxString(body, j)
			out.ID = laxjson.String(s)
		case "bidid":
			if !once(&seen, 2) {
				return j, false
			}
			s, end, ok = laxjson.LaxString(body, j)
			out.BidID = laxjson.String(s)
		case "cur":
			if !once(&seen, 4) {
				return j, false
			}
			s, end, ok = fastCur(body, j)
			out.Cur = flexCur(s)
		case "nbr":
			if !once(&seen, 8) {
				return j, false
			}
			out.NBR, end, ok = fastInt(body, j)
		case "seatbid":
			if !once(&seen, 16) {
				return j, false
			}
			if e, null := laxjson.IsNull(body, j); null {
				return e, true
			}
			if j >= len(body) || body[j] != '[' {
				return j, false
			}
			return laxjson.EachValueAt(body, j, func(k int) (int, bool) {
				sb, end, ok := fastSeat(body, k, &n, maxBids)
				out.SeatBid = append(out.SeatBid, sb)
				return end, ok
			})
		default:
			if laxjson.LooseKey(key, answerKeys) {
				return j, false
			}
			return laxjson.SkipValue(body, j)
		}
		return end, ok
	})
	if !ok || end != len(body) {
		return nil, nil, false
	}
	if n == 0 {
		if out.NBR != 0 {
			return &bidResponse{NBR: out.NBR}, nil, true
		}
		return nil, nil, true
	}
	return &out, nil, true
}

var (
	answerKeys = []string{"id", "seatbid", "bidid", "cur", "nbr"}
	seatKeys   = []string{"bid", "seat", "group"}
	bidKeys    = []string{"id", "impid", "price", "adid", "nurl", "burl", "lurl", "adm", "adomain", "crid", "cid", "ext",
		"cat", "attr", "w", "h", "mtype", "exp"}
)

// once marks bit in seen and reports whether it was clear: a key seen
// twice is left to encoding/json.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// fastCur reads a flexCur: "USD", ["USD", ...] (strings or nulls) or null.
func fastCur(b []byte, i int) (string, int, bool) {
	if i >= len(b) {
		return "", i, false
	}
	switch b[i] {
	case '"':
		return laxjson.ReadString(b, i)
	case 'n':
		end, ok := laxjson.IsNull(b, i)
		return "", end, ok
	case '[':
		var cur string
		k := 0
		end, ok := laxjson.EachValueAt(b, i, func(j int) (int, bool) {
			k++
			if e, null := laxjson.IsNull(b, j); null {
				return e, true
			}
			if j >= len(b) || b[j] != '"' {
				return j, false
			}
			s, e, ok := laxjson.ReadString(b, j)
			if k == 1 {
				cur = s
			}
			return e, ok
		})
		return cur, end, ok
	}
	return "", i, false
}

// fastInt reads an int field as encoding/json does: an integer literal, or
// null (0).
func fastInt(b []byte, i int) (int, int, bool) {
	if e, null := laxjson.IsNull(b, i); null {
		return 0, e, true
	}
	end, ok := laxjson.SkipNumber(b, i)
	if !ok {
		return 0, end, false
	}
	v, err := strconv.ParseInt(string(b[i:end]), 10, 0)
	return int(v), end, err == nil
}

// fastSeat reads one seatbid object, counting its bids into n; more than
// maxBids in all (maxBids > 0) is left to the reference decoder.
func fastSeat(b []byte, i int, n *int, maxBids int) (seatBid, int, bool) {
	var sb seatBid
	if i >= len(b) || b[i] != '{' {
		return sb, i, false
	}
	var seen uint8
	end, ok := laxjson.EachMember(b, i, func(key []byte, j int) (int, bool) {
		var end int
		var ok bool
		var s string
		switch string(key) {
		case "seat":
			if !once(&seen, 1) {
				return j, false
			}
			s, end, ok = laxjson.LaxString(b, j)
			sb.Seat = laxjson.String(s)
		case "group":
			if !once(&seen, 2) {
				return j, false
			}
			sb.Group, end, ok = fastInt(b, j)
		case "bid":
			if !once(&seen, 4) {
				return j, false
			}
			if e, null := laxjson.IsNull(b, j); null {
				return e, true
			}
			if j >= len(b) || b[j] != '[' {
				return j, false
			}
			end, ok = laxjson.EachValueAt(b, j, func(k int) (int, bool) {
				if *n++; maxBids > 0 && *n > maxBids {
					return k, false
				}
				bd, end, ok := fastBid(b, k)
				sb.Bid = append(sb.Bid, bd)
				return end, ok
			})
		default:
			if laxjson.LooseKey(key, seatKeys) {
				return j, false
			}
			return laxjson.SkipValue(b, j)
		}
		return end, ok
	})
	return sb, end, ok
}

// fastBid reads one bid as bid.UnmarshalJSON does.
func fastBid(b []byte, i int) (bid, int, bool) {
	var bd bid
	if i >= len(b) || b[i] != '{' {
		return bd, i, false
	}
	var seen uint32
	var cat, attr, w, h, mtype, exp []byte
	mark := func(bit uint32) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	end, ok := laxjson.EachMember(b, i, func(key []byte, j int) (int, bool) {
		var end int
		var ok bool
		var s string
		lax := func(bit uint32, dst *string) (int, bool) {
			if !mark(bit) {
				return j, false
			}
			s, end, ok = laxjson.LaxString(b, j)
			*dst = s
			return end, ok
		}
		strict := func(bit uint32, dst *string) (int, bool) {
			if !mark(bit) {
				return j, false
			}
			if e, null := laxjson.IsNull(b, j); null {
				return e, true
			}
			if j >= len(b) || b[j] != '"' {
				return j, false
			}
			s, end, ok = laxjson.ReadString(b, j)
			*dst = s
			return end, ok
		}
		raw := func(bit uint32, dst *[]byte) (int, bool) {
			if !mark(bit) {
				return j, false
			}
			end, ok = laxjson.SkipValue(b, j)
			*dst = b[j:end]
			return end, ok
		}
		switch string(key) {
		case "id":
			return lax(1<<0, &bd.ID)
		case "impid":
			return lax(1<<1, &bd.ImpID)
		case "adid":
			return lax(1<<2, &bd.AdID)
		case "crid":
			return lax(1<<3, &bd.CrID)
		case "cid":
			return lax(1<<4, &bd.CID)
		case "price":
			var p string
			end, ok = lax(1<<5, &p)
			bd.Price = json.Number(p)
			return end, ok
		case "adomain":
			if !mark(1 << 6) {
				return j, false
			}
			bd.ADomain, end, ok = laxjson.LaxStrings(b, j)
			return end, ok
		case "nurl":
			return strict(1<<7, &bd.NURL)
		case "burl":
			return strict(1<<8, &bd.BURL)
		case "lurl":
			return strict(1<<9, &bd.LURL)
		case "adm":
			if !mark(1 << 10) {
				return j, false
			}
			if e, null := laxjson.IsNull(b, j); null {
				return e, true
			}
			if j < len(b) && b[j] == '"' {
				s, end, ok = laxjson.ReadString(b, j)
				bd.AdM = s
				return end, ok
			}
			// Native markup as an object: kept as its text (unrenderable).
			end, ok = laxjson.SkipValue(b, j)
			bd.AdM = string(b[j:end])
			return end, ok
		case "ext":
			var e []byte
			end, ok = raw(1<<11, &e)
			bd.Ext = bytes.Clone(e)
			return end, ok
		case "cat":
			return raw(1<<12, &cat)
		case "attr":
			return raw(1<<13, &attr)
		case "w":
			return raw(1<<14, &w)
		case "h":
			return raw(1<<15, &h)
		case "mtype":
			return raw(1<<16, &mtype)
		case "exp":
			return raw(1<<17, &exp)
		}
		if laxjson.LooseKey(key, bidKeys) {
			return j, false
		}
		return laxjson.SkipValue(b, j)
	})
	if !ok {
		return bd, end, false
	}
	bd.problem = bd.decodeDetails(cat, attr, w, h, mtype, exp)
	return bd, end, true
}
