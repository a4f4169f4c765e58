package bridge

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fixtureBodies are the AdServer bodies of bridge/testdata.
func fixtureBodies(tb testing.TB) map[string][]byte {
	files, _ := filepath.Glob("testdata/*.json")
	out := map[string][]byte{}
	for _, file := range files {
		var fx struct {
			Body json.RawMessage `json:"body"`
		}
		raw, err := os.ReadFile(file)
		if err != nil || json.Unmarshal(raw, &fx) != nil || len(fx.Body) == 0 {
			tb.Fatalf("fixture %s has no body", file)
		}
		out[file] = fx.Body
	}
	if len(out) < 5 {
		tb.Fatalf("only %d fixture bodies", len(out))
	}
	return out
}

// quirkyBodies are PHP and hand-written shapes both decoders must read
// alike, whichever of them takes the body.
var quirkyBodies = []string{
	`{"context":{"site":[],"device":{"ip":"::1","headers":{"user-agent":["x"]}},"user":{"uid":"","keywords":{"user":{"country":"pl"}}}},"requests":{"1":{"request_id":"1","creative_id":"c","mimes":"image\/png","topframe":"1"}}}`,
	`{"context":{"site":{"inframe":"no","keywords":["a","b,c"]},"device":{"headers":{"user-agent":["Mozilla\/5.0 (Linux; Android 13; SM-S911B)"],"dnt":["1"]}},"user":{"keywords":{"device":{"crawler":"1","os":"apple-os"},"site":{"category":["news"]},"human_score":["0.3"]}}},"requests":[]}`,
	`{"context":[],"requests":[]}`,
	`{"context":null,"requests":{}}`,
	`[]`, `null`, `{}`, `{"requests":null}`, `{"requests":"x"}`,
	`{"requests":[{"request_id":"0","creative_id":7,"mimes":{"0":"image\/png","1":null},"topframe":" Yes "}]}`,
	`{"requests":[{"request_id":0,"creative_id":"c"}]}`,
	`{"requests":[{"request_id":"","creative_id":"c"}]}`,
	`{"requests":[null]}`,
	`{"requests":[{"request_id":"1","creative_id":"a"},{"request_id":"1","creative_id":{}}]}`,
	`{"Requests":[{"request_id":"0"}]}`,
	`{"requests":[{"request_id":"0"}],"requests":[]}`,
	`{"requests":[{"REQUEST_ID":"0"}]}`,
	`{"context":{"site":{"page":"a","page":[]}},"requests":[]}`,
	`{"context":{"site":{"domain":true,"page":1.5e3,"referrer":null,"keywords":{"x":[1]},"inframe":[" YES "]}},"requests":[]}`,
	`{"context":{"device":{"ip":" 10.0.0.1 ","headers":{"User-Agent":["a"],"user-agent":["b"]}}},"requests":[]}`,
	`{"context":{"device":{"headers":{"DNT":"0","x":[1,true,null]}}},"requests":[]}`,
	`{"context":{"device":{"headers":{"dnt":[{}]}}},"requests":[]}`,
	`{"context":{"user":{"uid":12,"keywords":"x"}},"requests":[]}`,
	`{"context":{"user":{"keywords":[ ]}},"requests":[]}`,
	`{"context":{"user":{"keywords":[1]}},"requests":[]}`,
	`{"context":{"user":{"keywords":{ "user" : { "country" : [ "de" ] } , "human_score" : 0.5 }}},"requests":[]}`,
	`{"context":{"site":{"page":"\ud83d\ude00 \u017c \"q\" \\ \/"}},"requests":[]}`,
	`{"context":{"site":{"page":"\ud83d"}},"requests":[]}`,
	"{\"context\":{\"site\":{\"page\":\"\xff\"}},\"requests\":[]}",
	`{"context":{"site":{"page":"x"}},"requests":[]} x`,
	`{"context":{"site":{"pag\u0065":"x"}},"requests":[]}`,
	`{"context":{"site":{"\u212aeywords":"x"}},"requests":[]}`,
	` {"requests":[{"request_id":"0","topframe":1.0}, {"request_id":"1","topframe":"maybe"}]} `,
}

// TestFixturesTakeTheFastPath: every AdServer body of testdata is read by
// the one-pass decoder (not handed to encoding/json), with the reference
// decoder's result.
func TestFixturesTakeTheFastPath(t *testing.T) {
	for file, body := range fixtureBodies(t) {
		fast, ok := fastBidCall(body)
		if !ok {
			t.Errorf("%s: the fast decoder declined the body", file)
			continue
		}
		std, err := parseBidCallStd(body)
		if err != nil || !reflect.DeepEqual(fast, std) {
			t.Errorf("%s: fast %+v, reference %+v (%v)", file, fast, std, err)
		}
	}
	if _, ok := fastBidCall([]byte(simpleBid(creativePNG))); !ok {
		t.Error("the fast decoder declined the load benchmarks' body")
	}
}

// FuzzFastBidCall: for any body, the one-pass decoder and the reference
// (encoding/json) decoder agree: when the fast one takes a body the
// reference gives the same call, and ParseBidCall fails exactly when the
// reference does, with its words. (A body the fast decoder declines goes
// to the reference decoder itself, whose call may differ between two runs
// for one such body: two user-agent headers, read through a map.)
func FuzzFastBidCall(f *testing.F) {
	for _, body := range fixtureBodies(f) {
		f.Add(body)
	}
	for _, body := range quirkyBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSameCall(t, body)
	})
}

func checkSameCall(t *testing.T, body []byte) {
	t.Helper()
	std, stdErr := parseBidCallStd(body)
	if fast, ok := fastBidCall(body); ok && (stdErr != nil || !reflect.DeepEqual(fast, std)) {
		t.Fatalf("body %q:\nfast      %+v\nreference %+v (%v)", body, fast, std, stdErr)
	}
	got, err := ParseBidCall(body)
	if (err == nil) != (stdErr == nil) || (err != nil && err.Error() != stdErr.Error()) {
		t.Fatalf("body %q: ParseBidCall %+v (%v), reference %+v (%v)", body, got, err, std, stdErr)
	}
}

// TestQuirkyBodiesAgree runs the quirky shapes as a plain test, so that a
// disagreement names its body.
func TestQuirkyBodiesAgree(t *testing.T) {
	for _, body := range quirkyBodies {
		checkSameCall(t, []byte(body))
	}
}

// Neither decoder's call refers to the body's bytes: /bid bodies are read
// into pooled buffers that the next request overwrites.
func TestCallDoesNotAliasTheBody(t *testing.T) {
	bodies := fixtureBodies(t)
	for _, q := range quirkyBodies {
		bodies[q] = []byte(q)
	}
	for name, body := range bodies {
		for _, parse := range []func([]byte) (*BidCall, error){ParseBidCall, parseBidCallStd} {
			scratch := bytes.Clone(body)
			call, err := parse(scratch)
			if err != nil {
				continue
			}
			before, _ := json.Marshal(call)
			for i := range scratch {
				scratch[i] = 'x'
			}
			if after, _ := json.Marshal(call); !bytes.Equal(before, after) {
				t.Errorf("%s: overwriting the body changed the call:\n%s\n%s", name, before, after)
			}
		}
	}
}
