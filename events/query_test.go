package events

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/adserversim"
)

func TestParseEventQuery(t *testing.T) {
	const cid = "8c4d43f6d4ee4ca89cb4907ac0a2e500"
	const iid = "3f1e2d3c4b5a69788796a5b4c3d2e1f0"
	tests := []struct {
		name string
		raw  string
		want query
		err  error
	}{
		{"adserver view", "iid=" + iid + "&zid=a1b2c3d4e5f60718293a4b5c6d7e8f90&extid=a7Kq3xY0-1&cid=" + cid +
			"&pto=0001-00000005-CBCA&pid=fa9611d2d2f74e3f89c0e18b7c401891&ctx=eyJwYWdlIjp7",
			query{ExtID: "a7Kq3xY0-1", CaseID: cid, ImpressionID: iid, ZoneID: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
				PublisherID: "fa9611d2d2f74e3f89c0e18b7c401891"}, nil},
		{"cid with dashes and upper case", "extid=x&cid=8C4D43F6-D4EE-4CA8-9CB4-907AC0A2E500",
			query{ExtID: "x", CaseID: cid}, nil},
		{"repeated iid on click: first valid one", "iid=bad&extid=x&cid=" + cid + "&iid=" + iid,
			query{ExtID: "x", CaseID: cid, ImpressionID: iid}, nil},
		{"percent-encoded extid", "extid=a%2Db_c&cid=" + cid, query{ExtID: "a-b_c", CaseID: cid}, nil},
		{"garbage ctx and broken escapes elsewhere are ignored", "extid=x&cid=" + cid + "&ctx=%%%&r=%zz&ctx=!!",
			query{ExtID: "x", CaseID: cid}, nil},
		{"missing extid", "cid=" + cid, query{}, errBadExtID},
		{"empty extid", "extid=&cid=" + cid, query{}, errBadExtID},
		// A literal + is kept as + (not a space), so it is not a valid ext_id character.
		{"plus in extid is kept, and invalid", "extid=a+b&cid=" + cid, query{}, errBadExtID},
		{"extid too long", "extid=" + string(make65()) + "&cid=" + cid, query{}, errBadExtID},
		{"missing cid", "extid=x", query{}, errBadCaseID},
		{"short cid", "extid=x&cid=abc", query{}, errBadCaseID},
		{"non-hex cid", "extid=x&cid=zc4d43f6d4ee4ca89cb4907ac0a2e500", query{}, errBadCaseID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEventQuery(tc.raw)
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func make65() []byte {
	b := make([]byte, 65)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func TestParseRawQueryKeepsPlus(t *testing.T) {
	p := parseRawQuery("a=1+2&b=x%2By&c=%20&a=3")
	if p["a"][0] != "1+2" || p["a"][1] != "3" || p["b"][0] != "x+y" || p["c"][0] != " " {
		t.Fatalf("got %v", p)
	}
}

// FuzzParseEventQuery: never panics, and whatever it accepts is a
// well-formed ext_id and a 32-lowercase-hex case id, and written back as a
// query it parses to the same; an encoded value round-trips. Seeded with
// E4 (view) and E5 (click) queries as the AdServer builds them.
func FuzzParseEventQuery(f *testing.F) {
	f.Add("extid=a7Kq3xY0-1&cid=8c4d43f6d4ee4ca89cb4907ac0a2e500&iid=1&iid=2", "x+y")
	f.Add("%%%&&==&extid=%41", "")
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 6 {
		ev := adserversim.RandomEvent(r, adserversim.RandomImpression(r))
		if i%3 == 0 {
			ev.CaseID = ev.CaseID[:8] + "-" + ev.CaseID[8:12] + "-" + ev.CaseID[12:] // as browsers send it
		}
		u, err := adserversim.EventURL("http://127.0.0.1:8015/view", "a7Kq3xY0-1_"+itoa(i), "0001-00000005-CBCA", ev, i%2 == 1)
		if err != nil {
			f.Fatal(err)
		}
		_, raw, _ := strings.Cut(u, "?")
		f.Add(raw, ev.Page.URL)
	}
	f.Fuzz(func(t *testing.T, raw, value string) {
		q, err := parseEventQuery(raw)
		if ref, refErr := parseEventQueryViaMap(raw); refErr != err || (err == nil && ref != q) {
			t.Fatalf("%q: one pass %+v, %v; via the map %+v, %v", raw, q, err, ref, refErr)
		}
		if err == nil {
			if !extIDRe.MatchString(q.ExtID) {
				t.Fatalf("accepted ext_id %q", q.ExtID)
			}
			if _, ok := normalizeID(q.CaseID); !ok || q.CaseID != toLowerNoDash(q.CaseID) {
				t.Fatalf("accepted case id %q", q.CaseID)
			}
			back := "extid=" + url.QueryEscape(q.ExtID) + "&cid=" + q.CaseID + "&iid=" + q.ImpressionID + "&zid=" + q.ZoneID + "&pid=" + q.PublisherID
			if again, err := parseEventQuery(back); err != nil || again != q {
				t.Fatalf("%q parsed to %+v, written back as %q to %+v (%v)", raw, q, back, again, err)
			}
		}
		enc := strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
		p := parseRawQuery("v=" + enc + "&" + raw)
		if p["v"][0] != value {
			t.Fatalf("value %q came back as %q", value, p["v"][0])
		}
	})
}

// parseEventQueryViaMap is parseEventQuery as it was written first, over
// parseRawQuery's map: the one-pass parser must agree with it.
func parseEventQueryViaMap(raw string) (query, error) {
	p := parseRawQuery(raw)
	var q query
	if len(p["extid"]) > 0 {
		q.ExtID = p["extid"][0]
	}
	if !extIDRe.MatchString(q.ExtID) {
		return q, errBadExtID
	}
	var cid string
	if len(p["cid"]) > 0 {
		cid = p["cid"][0]
	}
	id, ok := normalizeID(cid)
	if !ok {
		return q, errBadCaseID
	}
	q.CaseID = id
	firstID := func(vs []string) string {
		for _, v := range vs {
			if id, ok := normalizeID(v); ok {
				return id
			}
		}
		return ""
	}
	q.ImpressionID, q.ZoneID, q.PublisherID = firstID(p["iid"]), firstID(p["zid"]), firstID(p["pid"])
	return q, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

func toLowerNoDash(s string) string {
	out, _ := normalizeID(s)
	return out
}

// parseRawQuery is the reference parseEventQuery is checked against: it
// splits a raw query string into its parameters, decoding
// %XX escapes only: the AdServer appends parameters RFC1738-style, so a
// literal "+" in a value is a "+", never a space (url.ParseQuery would turn
// it into one). Parameters with a broken escape are skipped, not fatal.
func parseRawQuery(raw string) map[string][]string {
	out := map[string][]string{}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.PathUnescape(k)
		if err != nil {
			continue
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			continue
		}
		out[key] = append(out[key], val)
	}
	return out
}
