package auction

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/adshares/dsp-bridge/internal/laxjson"
	"github.com/adshares/dsp-bridge/store"
)

// Bounds on what one bid may carry into the auctions table: a real bid
// names a few categories and domains; more is a DSP bug or an attack on
// the row size.
const (
	maxBidListLen = 32
	maxBidText    = 256
)

// decodeDetails reads cat, attr, w, h, mtype and exp the lax way (numbers
// may come as strings, cat as one string) and returns what is wrong, or "".
func (b *bid) decodeDetails(cat, attr, w, h, mtype, exp json.RawMessage) string {
	if len(cat) > 0 {
		l, end, ok := laxjson.LaxStrings(cat, 0)
		if !ok || end != len(cat) {
			var ll laxjson.Strings
			if err := ll.UnmarshalJSON(cat); err != nil {
				return "cat: " + laxjson.Problem(err)
			}
			l = ll
		}
		b.Cat = l
	}
	if len(bytes.TrimSpace(attr)) > 0 && string(bytes.TrimSpace(attr)) != "null" {
		err := laxjson.EachValue(attr, func(v json.RawMessage) error {
			n, err := laxInt(v)
			b.Attr = append(b.Attr, n)
			return err
		})
		if err != nil {
			return "attr: " + laxjson.Problem(err)
		}
	}
	// One call per field, not a loop over a table of pointers into b:
	// such a table makes escape analysis move every decoded bid (b) to
	// the heap.
	var err error
	if b.W, err = laxInt(w); err != nil {
		return "w: " + err.Error()
	}
	if b.H, err = laxInt(h); err != nil {
		return "h: " + err.Error()
	}
	if b.MType, err = laxInt(mtype); err != nil {
		return "mtype: " + err.Error()
	}
	if b.Exp, err = laxInt(exp); err != nil {
		return "exp: " + err.Error()
	}
	return ""
}

// laxInt reads a non-negative integer sent as a number or a numeric string;
// absent or null is 0.
func laxInt(raw json.RawMessage) (int64, error) {
	var s laxjson.String
	if len(bytes.TrimSpace(raw)) == 0 {
		return 0, nil
	}
	if err := s.UnmarshalJSON(raw); err != nil {
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(s)), 10, 32)
	if err != nil || n < 0 {
		return 0, errString("want a small non-negative integer, got " + strconv.Quote(string(s)))
	}
	return n, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// judgeBid applies the DSP's own rules to one bid (after the protocol
// checks of validate): lax fields that did not decode, row-size bounds,
// dsps[].require, the block lists, and the slot's size. imp is what the
// DSP was offered for the bid's impid.
func (p *policy) judgeBid(b *bid, imp *openrtb2.Imp) (Reason, string, bool) {
	switch {
	case b.problem != "":
		return ReasonRejected, b.problem, false
	case len(b.Cat) > maxBidListLen || len(b.ADomain) > maxBidListLen || len(b.Attr) > maxBidListLen:
		return ReasonRejected, "more than 32 cat, adomain or attr entries", false
	case tooLong(b.CrID, b.CID, b.AdID) || tooLong(b.Cat...) || tooLong(b.ADomain...):
		return ReasonRejected, "crid, cid, adid, cat or adomain longer than 256 characters", false
	case hasNUL(b.CrID, b.CID) || hasNUL(b.Cat...):
		return ReasonRejected, "NUL byte in crid, cid or cat", false
	case b.MType > 4:
		return ReasonRejected, "mtype " + strconv.FormatInt(b.MType, 10) + " is not 1..4", false
	}
	for _, f := range p.require {
		if !hasField(b, f) {
			return ReasonMissingField, "required field " + f + " is missing", false
		}
	}
	if c, blocked := p.block.blockedCategory(b.Cat); blocked {
		return ReasonBlockedCategory, "category " + c + " is blocked", false
	}
	if d, blocked := p.block.blockedAdvertiser(b.ADomain); blocked {
		return ReasonBlockedAdv, "advertiser " + d + " is blocked", false
	}
	if a, blocked := p.block.blockedAttribute(b.Attr); blocked {
		return ReasonBlockedAttr, "creative attribute " + strconv.FormatInt(a, 10) + " is blocked", false
	}
	if imp != nil && imp.Banner != nil && len(imp.Banner.Format) > 0 && (b.W != 0 || b.H != 0) {
		f := imp.Banner.Format[0]
		if b.W != f.W || b.H != f.H {
			return ReasonSize, "size " + strconv.FormatInt(b.W, 10) + "x" + strconv.FormatInt(b.H, 10) +
				" is not the slot's " + strconv.FormatInt(f.W, 10) + "x" + strconv.FormatInt(f.H, 10), false
		}
	}
	return 0, "", true
}

func tooLong(ss ...string) bool {
	for _, s := range ss {
		if len(s) > maxBidText {
			return true
		}
	}
	return false
}

// hasField reports whether a dsps[].require field is filled in.
func hasField(b *bid, f string) bool {
	switch f {
	case "adid":
		return b.AdID != ""
	case "adomain":
		return nonEmpty(b.ADomain)
	case "burl":
		return b.BURL != ""
	case "cat":
		return nonEmpty(b.Cat)
	case "cid":
		return b.CID != ""
	case "crid":
		return b.CrID != ""
	case "h":
		return b.H > 0
	case "mtype":
		return b.MType > 0
	case "w":
		return b.W > 0
	}
	return true
}

func nonEmpty(l []string) bool {
	for _, s := range l {
		if strings.TrimSpace(s) != "" {
			return true
		}
	}
	return false
}

// offeredImp is the imp with this id in what the DSP was sent, or nil.
func (a *answer) offeredImp(id string) *openrtb2.Imp {
	if a.sent == nil {
		return nil
	}
	for i := range a.sent.Imp {
		if a.sent.Imp[i].ID == id {
			return &a.sent.Imp[i]
		}
	}
	return nil
}

// winDetails copies what identifies the winning creative onto its row, so
// a dispute can name it: crid, cid, cat, attr, w/h, mtype, exp.
func winDetails(row *store.Auction, b *bid) {
	row.CrID, row.CID, row.W, row.H, row.MType, row.Exp = b.CrID, b.CID, b.W, b.H, b.MType, b.Exp
	row.Cat = b.Cat
	for _, a := range b.Attr {
		row.Attr = append(row.Attr, int32(a))
	}
}
