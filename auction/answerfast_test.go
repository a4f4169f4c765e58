package auction

import (
	"bytes"
	"reflect"
	"testing"
)

// quirkyAnswers are lax and hostile answer shapes both decoders must read
// alike, whichever of them takes the answer.
var quirkyAnswers = []string{
	benchAnswer,
	`{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"0","price":"1.5","ext":null,"adm":{"native":{}},"nurl":null}]}],"nbr":null,"cur":[null,"EUR"]}`,
	`{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"0","price":1,"nurl":7}]}]}`,
	`{"id":"1","seatbid":[{"bid":[{"id":"b","impid":"0","price":1,"ID":"c"}]}]}`,
	`{"id":"1","seatbid":[{"bid":[{"id":"b","id":"c"}]}]}`,
	`{"id":"1","seatbid":[{"bid":[null]}]}`,
	`{"id":"1","seatbid":[null]}`,
	`{"id":"1","seatbid":null,"nbr":3}`,
	`{"id":"1","seatbid":[{"bid":[]}],"nbr":"3"}`,
	`{"id":"1","seatbid":[{"bid":[],"group":1.0}]}`,
	`{"id":"1","seatbid":[{"bid":{}}]}`,
	`{"id":"1","seatbid":{}}`,
	`{"id":{},"seatbid":[]}`,
	`{"cur":7,"seatbid":[{"bid":[{"id":"b"}]}]}`,
	`{"cur":[7],"seatbid":[{"bid":[{"id":"b"}]}]}`,
	`{"cur":[],"seatbid":[{"bid":[{"id":"b","ext":{"a":[1, 2]},"adm":"<b>\u00e9\ud83d\ude00<\/b>"}]}]}`,
	`{"seatbid":[{"bid":[{"id":"b","w":"300","h":250.0,"mtype":"x","attr":[1,"2"],"cat":["IAB1",null]}]}]}`,
	`{"seatbid":[{"bid":[{"id":"b","cat":[{}],"attr":{"0":3}}]}]}`,
	`{"seatbid":[{"bid":[{"id":"b"},{"id":"c"},{"id":"d"}]},{"bid":[{"id":"e"},{"id":"f"},{"id":"g"}]}]}`,
	`{"seatbid":[{"bid":[{"id":"b","\u212aey":1,"k\u0065y":2}]}]}`,
	`{"seatbid":[{"bid":[{"id":"b"}]}]} {}`,
	`null`, `[]`, `"x"`, `{}`,
}

// TestFixtureAnswersTakeTheFastPath: every answer of testdata that the
// reference decoder reads without error is read by the one-pass decoder
// too (not handed to encoding/json), with the same result.
func TestFixtureAnswersTakeTheFastPath(t *testing.T) {
	taken := 0
	for _, body := range append(fixtureAnswers(t), []byte(benchAnswer)) {
		body = bytes.TrimSpace(body)
		if len(body) == 0 || moreBidsThan(body, 10) {
			continue
		}
		std, err := parseBidResponseStd(body, 10)
		if err != nil {
			continue
		}
		fast, ferr, ok := fastBidResponse(body, 10)
		if !ok || ferr != nil || !reflect.DeepEqual(fast, std) {
			t.Errorf("answer %s:\nfast %+v (%v, taken %v)\nreference %+v", body, fast, ferr, ok, std)
		}
		taken++
	}
	if taken < 20 { // 34 today: the fixtures must not all be declined
		t.Fatalf("only %d fixture answers decoded", taken)
	}
}

// FuzzFastBidResponse: for any answer and bound, the one-pass decoder and
// the reference (encoding/json) decoder agree: when the fast one takes an
// answer the reference gives the same answer or error, and
// parseBidResponse gives exactly the reference's.
func FuzzFastBidResponse(f *testing.F) {
	for _, a := range fixtureAnswers(f) {
		f.Add(a, uint8(5))
	}
	for _, a := range quirkyAnswers {
		f.Add([]byte(a), uint8(5))
	}
	f.Fuzz(func(t *testing.T, body []byte, bound uint8) {
		checkSameAnswer(t, body, int(bound%12)-1)
	})
}

func checkSameAnswer(t *testing.T, body []byte, maxBids int) {
	t.Helper()
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && !(maxBids > 0 && moreBidsThan(trimmed, maxBids)) {
		std, stdErr := parseBidResponseStd(trimmed, maxBids)
		if fast, err, ok := fastBidResponse(trimmed, maxBids); ok && (!sameError(err, stdErr) || !reflect.DeepEqual(fast, std)) {
			t.Fatalf("answer %q, bound %d:\nfast      %+v (%v)\nreference %+v (%v)", body, maxBids, fast, err, std, stdErr)
		}
	}
	// parseBidResponse against the decoder as it was: encoding/json only.
	got, err := parseBidResponse(body, maxBids)
	want, wantErr := referenceParse(body, maxBids)
	if !sameError(err, wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("answer %q, bound %d: parseBidResponse %+v (%v), reference %+v (%v)", body, maxBids, got, err, want, wantErr)
	}
}

// referenceParse is parseBidResponse with the reference decoder only.
func referenceParse(body []byte, maxBids int) (*bidResponse, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	if maxBids > 0 && moreBidsThan(body, maxBids) {
		return nil, &TooManyBidsError{Max: maxBids}
	}
	return parseBidResponseStd(body, maxBids)
}

func sameError(a, b error) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Error() == b.Error())
}

// TestQuirkyAnswersAgree runs the quirky shapes as a plain test, at a few
// bounds, so that a disagreement names its answer.
func TestQuirkyAnswersAgree(t *testing.T) {
	for _, a := range quirkyAnswers {
		for _, bound := range []int{0, 1, 2, 5} {
			checkSameAnswer(t, []byte(a), bound)
		}
	}
}
