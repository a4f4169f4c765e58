package bridge

import (
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
// bad-call error, never panics, and a parsed call is usable.
func FuzzParseBidCall(f *testing.F) {
	f.Add([]byte(`{"context":{"site":[],"device":{"ip":"::1","headers":{"user-agent":["x"]}},"user":{"uid":"","keywords":{"user":{"country":"pl"}}}},"requests":{"1":{"request_id":"1","creative_id":"c","mimes":"image\/png","topframe":"1"}}}`))
	f.Add([]byte(`{"requests":[{"request_id":"0","creative_id":"c"}]}`))
	f.Add([]byte(`{"context":{"site":{"inframe":"no","keywords":["a","b,c"]},"device":{"headers":{"user-agent":["Mozilla\/5.0 (Linux; Android 13; SM-S911B)"],"dnt":["1"]}},"user":{"keywords":{"device":{"crawler":"1","os":"apple-os"},"site":{"category":["news"]},"human_score":["0.3"]}}},"requests":[]}`))
	f.Add([]byte(`{"context":[],"requests":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		call, err := ParseBidCall(body)
		if err != nil {
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
	})
}
