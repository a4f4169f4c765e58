package adserversim

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestPHPJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"https://a.example/x?y=1", `"https:\/\/a.example\/x?y=1"`},
		{"zażółć", `"za\u017c\u00f3\u0142\u0107"`},
		{"😀", `"\ud83d\ude00"`},
		{"<a href='x'>&</a>", `"<a href='x'>&<\/a>"`},
		{"q\"\\\n\t\r\b\f\x01\x7f", `"q\"\\\n\t\r\b\f\u0001` + "\x7f" + `"`},
		{nil, `null`},
		{true, `true`},
		{int64(-5), `-5`},
		{1.0, `1.0`},
		{0.9, `0.9`},
		{0.0, `0.0`},
		{100.0, `100.0`},
		{0.0001, `0.0001`},
		{0.00001, `1.0e-5`},
		{1.5e-7, `1.5e-7`},
		{1e16, `10000000000000000.0`},
		{1e17, `1.0e+17`},
		{2.5e25, `2.5e+25`},
		{Obj{}, `[]`},
		{map[string]any{}, `[]`},
		{[]any{}, `[]`},
		{[]string(nil), `[]`},
		{Obj{{"0", "a"}, {"1", "b"}}, `["a","b"]`},
		{Obj{{"1", "a"}, {"2", "b"}}, `{"1":"a","2":"b"}`},
		{Obj{{"1", "a"}, {"0", "b"}}, `{"1":"a","0":"b"}`},
		{Obj{{"b", 1}, {"a", []float64{0.5}}}, `{"b":1,"a":[0.5]}`},
		{map[string]any{"b": 1, "a/": "é"}, `{"a\/":"\u00e9","b":1}`},
	}
	for _, tt := range tests {
		got, err := phpJSON(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("phpJSON(%#v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("phpJSON(%#v) = %s is not valid JSON", tt.in, got)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), "\xff", struct{}{}, Obj{{"k", make(chan int)}}} {
		if b, err := phpJSON(bad); err == nil {
			t.Errorf("phpJSON(%#v) = %s, want an error", bad, b)
		}
	}
}

// FuzzPHPString checks the escaping against Go's decoder: whatever valid
// UTF-8 goes in comes back unchanged, and the output is pure ASCII with "/"
// never bare.
func FuzzPHPString(f *testing.F) {
	f.Add("https://ex.ample/ż?q=1&r=</script>")
	f.Add("\x00\u2028😀")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := phpJSON(s)
		if err != nil {
			return // invalid UTF-8 is refused, like json_encode
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Fatalf("phpJSON(%q) = %s decodes to %q, %v", s, b, back, err)
		}
		for i, c := range b {
			if c >= 0x80 || c == '/' && (i == 0 || b[i-1] != '\\') {
				t.Fatalf("phpJSON(%q) = %s has %q at %d", s, b, c, i)
			}
		}
	})
}

func TestPHPURLEncode(t *testing.T) {
	tests := map[string]string{
		"a7Kq3xY0-1":                "a7Kq3xY0-1",
		"a b+c":                     "a+b%2Bc",
		"x/y?z=1&w~":                "x%2Fy%3Fz%3D1%26w%7E",
		"ż":                         "%C5%BC",
		"0001-00000005-CBCA":        "0001-00000005-CBCA",
		"https://news.example/a.b_": "https%3A%2F%2Fnews.example%2Fa.b_",
	}
	for in, want := range tests {
		if got := phpURLEncode(in); got != want {
			t.Errorf("phpURLEncode(%q) = %q, want %q", in, got, want)
		}
		if back, err := url.QueryUnescape(phpURLEncode(in)); err != nil || back != in {
			t.Errorf("QueryUnescape(phpURLEncode(%q)) = %q, %v", in, back, err)
		}
	}
}

func TestBidBody(t *testing.T) {
	yes := true
	imp := Impression{
		Site:   Site{Domain: "kuchnia.example.pl", Page: "https://kuchnia.example.pl/przepisy/1", Referrer: "", Popup: ""},
		Device: Device{IP: "2001:db8::7", Referer: "https://kuchnia.example.pl/przepisy/1", UserAgent: "Mozilla/5.0 (X11)"},
		User:   User{UID: "", Keywords: nil},
	}
	slots := []Slot{
		{Position: 1, CreativeID: "9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b", Mimes: []string{"image/png", "video/mp4"}, Topframe: &yes},
		{Position: 2, CreativeID: "0c1d2e3f405162738495a6b7c8d9eaf0"},
	}
	got, err := BidBody(imp, slots)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"context":{"site":{"domain":"kuchnia.example.pl","inframe":null,"page":"https:\/\/kuchnia.example.pl\/przepisy\/1","referrer":"","popup":""},` +
		`"device":{"ip":"2001:db8::7","headers":{"referer":["https:\/\/kuchnia.example.pl\/przepisy\/1"],"user-agent":["Mozilla\/5.0 (X11)"]},"extensions":{"metamask":0}},` +
		`"user":{"uid":"","keywords":[]}},` +
		`"requests":{"1":{"mimes":["image\/png","video\/mp4"],"topframe":true,"request_id":"1","creative_id":"9f3b2a10c4d54e6f8a7b6c5d4e3f2a1b"},` +
		`"2":{"request_id":"2","creative_id":"0c1d2e3f405162738495a6b7c8d9eaf0"}}}`
	if string(got) != want {
		t.Fatalf("BidBody\n got %s\nwant %s", got, want)
	}

	// Positions 0..n-1 in order make requests a JSON array; a missing
	// referer or user agent is [null]; legacy keywords and a 1.0 metamask.
	imp.Device.Referer, imp.Device.UserAgent, imp.Device.Metamask = "", "", 1.0
	imp.Site.Keywords = []string{"żurek"}
	imp.User.Keywords = Obj{{"human_score", []float64{0.9}}}
	got, err = BidBody(imp, []Slot{{Position: 0, CreativeID: "a"}, {Position: 1, CreativeID: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{
		`"requests":[{"request_id":"0","creative_id":"a"},{"request_id":"1","creative_id":"b"}]`,
		`"headers":{"referer":[null],"user-agent":[null]},"extensions":{"metamask":1.0}`,
		`"keywords":["\u017curek"],"referrer"`,
		`"keywords":{"human_score":[0.9]}`,
	} {
		if !strings.Contains(string(got), frag) {
			t.Errorf("BidBody = %s\nlacks %s", got, frag)
		}
	}
	// Out of order positions are an object even if they are 0..n-1.
	got, _ = BidBody(imp, []Slot{{Position: 1, CreativeID: "b"}, {Position: 0, CreativeID: "a"}})
	if !strings.Contains(string(got), `"requests":{"1":`) {
		t.Errorf("out-of-order requests not an object: %s", got)
	}
	if _, err := BidBody(imp, []Slot{{Position: 1}, {Position: 1}}); err == nil {
		t.Error("repeated position accepted")
	}
}

func TestEventURL(t *testing.T) {
	frame := 1
	ev := Event{
		ImpressionID: "3f1e2d3c4b5a69788796a5b4c3d2e1f0",
		ZoneID:       "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		CaseID:       "8c4d43f6-d4ee-4ca8-9cb4-907ac0a2e500",
		PublisherID:  "fa9611d2d2f74e3f89c0e18b7c401891",
		Extra:        [][2]string{{"stid", "a b"}},
		Page:         Page{URL: "https://news.example.org/a/42", Ref: "", Keywords: "news", Frame: &frame, Account: "0x5f"},
	}
	view, err := EventURL("http://127.0.0.1:8015/view", "a7Kq3xY0-1", "0001-00000005-CBCA", ev, false)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "http://127.0.0.1:8015/view?iid=3f1e2d3c4b5a69788796a5b4c3d2e1f0&zid=a1b2c3d4e5f60718293a4b5c6d7e8f90&extid=a7Kq3xY0-1" +
		"&cid=8c4d43f6-d4ee-4ca8-9cb4-907ac0a2e500&stid=a+b&pto=0001-00000005-CBCA&pid=fa9611d2d2f74e3f89c0e18b7c401891&ctx="
	if !strings.HasPrefix(view, prefix) {
		t.Fatalf("view URL\n got %s\nwant %s...", view, prefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(view, prefix))
	if err != nil {
		t.Fatalf("ctx is not base64url without padding: %v", err)
	}
	wantCtx := `{"page":{"iid":"3f1e2d3c4b5a69788796a5b4c3d2e1f0","keywords":"news","metamask":0,"options":"","pop":"","ref":"",` +
		`"url":"https:\/\/news.example.org\/a\/42","zone":"a1b2c3d4e5f60718293a4b5c6d7e8f90","frame":1},"user":{"account":"0x5f"}}`
	if string(raw) != wantCtx {
		t.Errorf("ctx\n got %s\nwant %s", raw, wantCtx)
	}

	click, _ := EventURL("http://127.0.0.1:8015/click?x=1", "e", "0001-00000005-CBCA", ev, true)
	q, _ := url.ParseQuery(strings.SplitN(click, "?", 2)[1])
	if !reflect.DeepEqual(q["iid"], []string{ev.ImpressionID, ev.ImpressionID}) || q.Get("x") != "1" {
		t.Errorf("click URL %s: want x=1 kept and iid twice", click)
	}
	if !strings.Contains(click, "&pid=fa9611d2d2f74e3f89c0e18b7c401891&iid=3f1e2d3c4b5a69788796a5b4c3d2e1f0&ctx=") {
		t.Errorf("click URL %s: iid must come again between pid and ctx", click)
	}
}
