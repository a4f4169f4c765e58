package auction

import "bytes"

// Roles of the JSON containers moreBidsThan follows.
const (
	roleOther   = iota
	roleRoot    // the answer object
	roleSeats   // its seatbid array
	roleSeat    // one seatbid object
	roleBids    // that seat's bid array
	maxBidDepth = 4
)

// bidFrame is one open container on the path to a bid array.
type bidFrame struct {
	role      int
	obj       bool
	key       []byte // the object's current key (raw)
	expectKey bool
}

// moreBidsThan reports whether a JSON answer has more than limit elements
// in its seatbid[].bid[] arrays, looking only as far as the first one over
// the limit: an answer of 20,000 bids is refused after six, not after a
// megabyte of decoding. It does not validate: malformed input gives some
// answer, and the decoder refuses it anyway. Keys are matched as
// encoding/json matches field names (case-insensitively), but escapes in
// keys are not decoded; the exact count after decoding covers those.
func moreBidsThan(b []byte, limit int) bool {
	var stack [maxBidDepth]bidFrame
	depth := 0 // frames in use on stack
	other := 0 // nesting inside containers nobody counts
	n := 0
	// value notes that a value starts at the current position: a bid, if
	// it is an element of a bid array.
	value := func() bool {
		if other == 0 && depth > 0 && stack[depth-1].role == roleBids {
			n++
		}
		return n > limit
	}
	// open enters a container that starts here.
	open := func(obj bool) {
		if other > 0 {
			other++
			return
		}
		role := roleOther
		var top *bidFrame
		if depth > 0 {
			top = &stack[depth-1]
		}
		switch {
		case top == nil && obj:
			role = roleRoot
		case top != nil && top.role == roleRoot && !obj && bytes.EqualFold(top.key, []byte("seatbid")):
			role = roleSeats
		case top != nil && top.role == roleSeats && obj:
			role = roleSeat
		case top != nil && top.role == roleSeat && !obj && bytes.EqualFold(top.key, []byte("bid")):
			role = roleBids
		}
		if role == roleOther || depth == maxBidDepth {
			other = 1
			return
		}
		stack[depth] = bidFrame{role: role, obj: obj, expectKey: obj}
		depth++
	}
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			i++
		case ',':
			if other == 0 && depth > 0 && stack[depth-1].obj {
				stack[depth-1].expectKey = true
			}
			i++
		case '{', '[':
			if value() {
				return true
			}
			open(c == '{')
			i++
		case '}', ']':
			if other > 0 {
				other--
			} else if depth > 0 {
				depth--
			}
			i++
		case '"':
			end := skipString(b, i)
			if other == 0 && depth > 0 && stack[depth-1].obj && stack[depth-1].expectKey {
				top := &stack[depth-1]
				top.key, top.expectKey = b[i+1:max(end-1, i+1)], false
			} else if value() {
				return true
			}
			i = end
		default: // a number or literal
			if value() {
				return true
			}
			for i < len(b) && !delimiter(b[i]) {
				i++
			}
		}
	}
	return false
}

// skipString returns the index just past the JSON string starting at
// b[i] == '"' (len(b) if it never closes).
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// delimiter reports whether c ends a number or literal.
func delimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ']', '}', ':', '[', '{', '"':
		return true
	}
	return false
}
