package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func boolp(b bool) *bool { return &b }

func TestParseBidCallShapes(t *testing.T) {
	cases := []struct {
		name, body string
		ids        []string
		topframe   []*bool
	}{
		{"object", `{"requests":{"2":{"request_id":"2","creative_id":"c"},"0":{"request_id":"0","creative_id":"c","topframe":true}}}`, []string{"2", "0"}, []*bool{nil, boolp(true)}},
		{"array", `{"requests":[{"request_id":"0","creative_id":"c","topframe":"0"}]}`, []string{"0"}, []*bool{boolp(false)}},
		{"empty array", `{"requests":[]}`, nil, nil},
		{"empty object", `{"requests":{}}`, nil, nil},
		{"duplicate ids keep the first", `{"requests":[{"request_id":"1","creative_id":"a"},{"request_id":"1","creative_id":"b"}]}`, []string{"1"}, []*bool{nil}},
		{"escaped slashes and unicode", `{"context":{"site":{"page":"https:\/\/a.example\/\u017c"}},"requests":[{"request_id":"0","creative_id":"c"}]}`, []string{"0"}, []*bool{nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call, err := ParseBidCall([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(call.Slots) != len(c.ids) {
				t.Fatalf("slots %+v", call.Slots)
			}
			for i, s := range call.Slots {
				if s.RequestID != c.ids[i] || (s.TopFrame == nil) != (c.topframe[i] == nil) || (s.TopFrame != nil && *s.TopFrame != *c.topframe[i]) {
					t.Fatalf("slot %d = %+v", i, s)
				}
			}
		})
	}
	call, _ := ParseBidCall([]byte(`{"context":{"site":{"page":"https:\/\/a.example\/\u017c"},"device":{"headers":{"User-Agent":[null]}}},"requests":[]}`))
	if call.Site.Page != "https://a.example/ż" || call.Device.UserAgent != "" {
		t.Fatalf("context %+v", call)
	}
}

// FuzzParseBidCall: whatever the body, parsing returns a call or a
// bad-call error, never panics; a parsed call has unique, non-empty slot
// ids, and written back in the AdServer's shape it parses to the same call.
// Seeded with every AdServer body of bridge/testdata.
func FuzzParseBidCall(f *testing.F) {
	f.Add([]byte(`{"context":{"site":[],"device":{"ip":"::1","headers":{"user-agent":["x"]}},"user":{"uid":"","keywords":{"user":{"country":"pl"}}}},"requests":{"1":{"request_id":"1","creative_id":"c","mimes":"image\/png","topframe":"1"}}}`))
	f.Add([]byte(`{"requests":[{"request_id":"0","creative_id":"c"}]}`))
	f.Add([]byte(`{"context":{"site":{"inframe":"no","keywords":["a","b,c"]},"device":{"headers":{"user-agent":["Mozilla\/5.0 (Linux; Android 13; SM-S911B)"],"dnt":["1"]}},"user":{"keywords":{"device":{"crawler":"1","os":"apple-os"},"site":{"category":["news"]},"human_score":["0.3"]}}},"requests":[]}`))
	f.Add([]byte(`{"context":[],"requests":[]}`))
	f.Add([]byte(`[]`))
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		var fx struct {
			Body json.RawMessage `json:"body"`
		}
		raw, err := os.ReadFile(file)
		if err != nil || json.Unmarshal(raw, &fx) != nil || len(fx.Body) == 0 {
			f.Fatalf("fixture %s has no body", file)
		}
		f.Add([]byte(fx.Body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call, err := ParseBidCall(body)
		if err != nil {
			if !errors.Is(err, errBadCall) {
				t.Fatalf("error %v is not a bad-call error", err)
			}
			return
		}
		if hs := call.User.HumanScore; hs != nil && (*hs < 0 || *hs > 1) {
			t.Fatalf("human score %v outside 0..1", *hs)
		}
		seen := map[string]bool{}
		for _, s := range call.Slots {
			if s.RequestID == "" || seen[s.RequestID] {
				t.Fatalf("slot ids %+v", call.Slots)
			}
			seen[s.RequestID] = true
		}
		again, err := ParseBidCall(encodeBidCall(t, call))
		if err != nil {
			t.Fatalf("re-encoded call does not parse: %v", err)
		}
		if !reflect.DeepEqual(normalized(call), normalized(again)) {
			t.Fatalf("round trip changed the call:\n%+v\n%+v", call, again)
		}
	})
}

// encodeBidCall writes a parsed call back as the AdServer sends it.
func encodeBidCall(t *testing.T, c *BidCall) []byte {
	type slot struct {
		RequestID  string   `json:"request_id"`
		CreativeID string   `json:"creative_id"`
		Mimes      []string `json:"mimes,omitempty"`
		TopFrame   *bool    `json:"topframe,omitempty"`
	}
	site := map[string]any{"domain": c.Site.Domain, "page": c.Site.Page, "referrer": c.Site.Referrer}
	if len(c.Site.Keywords) > 0 {
		site["keywords"] = c.Site.Keywords
	}
	if c.Site.InFrame != nil {
		site["inframe"] = map[bool]string{true: "yes", false: "no"}[*c.Site.InFrame]
	}
	headers := map[string][]string{"user-agent": {c.Device.UserAgent}}
	if c.Device.DNT != nil {
		headers["dnt"] = []string{map[bool]string{true: "1", false: "0"}[*c.Device.DNT]}
	}
	body := map[string]any{
		"context": map[string]any{
			"site":   site,
			"device": map[string]any{"ip": c.Device.IP, "headers": headers},
			"user":   map[string]any{"uid": c.User.ID, "keywords": json.RawMessage(orEmpty(c.User.Keywords))},
		},
	}
	slots := []slot{}
	for _, s := range c.Slots {
		slots = append(slots, slot{s.RequestID, s.CreativeID, s.Mimes, s.TopFrame})
	}
	body["requests"] = slots
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as PHP's json_encode leaves < > & alone
	if err := enc.Encode(body); err != nil {
		t.Fatalf("encode %+v: %v", c, err)
	}
	return b.Bytes()
}

func orEmpty(kw json.RawMessage) json.RawMessage {
	if len(kw) == 0 {
		return json.RawMessage(`[]`) // PHP's empty object
	}
	return kw
}

// normalized makes empty and missing lists alike, as the wire does.
func normalized(c *BidCall) BidCall {
	n := *c
	n.Slots = nil
	for _, s := range c.Slots {
		if len(s.Mimes) == 0 {
			s.Mimes = nil
		}
		n.Slots = append(n.Slots, s)
	}
	if len(n.User.Keywords) == 0 {
		n.User.Keywords = nil
	}
	if len(n.Site.Keywords) == 0 {
		n.Site.Keywords = nil
	}
	return n
}
