package bench

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/adshares/dsp-bridge/adserversim"
)

// A template filled in is the query adserversim.EventURL builds for the
// same event, ext_id and case id: the bench calls /view and /click exactly
// as the AdServer does.
func TestEventTemplateMatchesAdServer(t *testing.T) {
	for _, click := range []bool{false, true} {
		tmpl, err := buildEventTemplates(rand.New(rand.NewPCG(7, 7)), adserverAddr, 3, click)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 7))
		for i := range tmpl {
			ev := adserversim.RandomEvent(r, adserversim.RandomImpression(r))
			ev.CaseID = "0123456789abcdef0123456789abcdef"
			want, err := adserversim.EventURL("http://bridge/view", "Ab-_09xyzXYZ0123456789", adserverAddr, ev, click)
			if err != nil {
				t.Fatal(err)
			}
			got := withQuery(mustURL(t, "http://bridge/view"), tmpl[i].query("Ab-_09xyzXYZ0123456789", ev.CaseID)).String()
			if got != want {
				t.Fatalf("click=%t\n got %s\nwant %s", click, got, want)
			}
		}
	}
	u := withQuery(mustURL(t, "http://bridge/view?a=1"), "iid=2")
	if u.String() != "http://bridge/view?a=1&iid=2" {
		t.Fatalf("an existing query must be kept: %s", u)
	}
}

func TestBidBodiesAreAdServerShaped(t *testing.T) {
	var crs []adserversim.Creative
	for _, c := range benchCreatives {
		crs = append(crs, adserversim.Creative{ID: c.id})
	}
	bodies, err := buildBidBodies(rand.New(rand.NewPCG(1, 1)), crs, 50, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		var doc struct {
			Requests any `json:"requests"`
		}
		if err := json.Unmarshal(b.body, &doc); err != nil {
			t.Fatal(err)
		}
		n := len(b.creatives)
		if n < 1 || n > 3 || len(b.ids) != n {
			t.Fatalf("%d slots, ids %v", n, b.ids)
		}
		seen := map[int]bool{}
		for i, c := range b.creatives {
			if seen[c] {
				t.Fatalf("creative %d twice in one /bid", c)
			}
			seen[c] = true
			if !strings.Contains(string(b.body), `"creative_id":"`+crs[c].ID+`"`) || b.ids[i] != string(rune('0'+i)) {
				t.Fatalf("slot %d: %s", i, b.body)
			}
		}
		// PHP encodes positions 0..n-1 as a JSON array.
		if _, ok := doc.Requests.([]any); !ok {
			t.Fatalf("requests is %T: %s", doc.Requests, b.body)
		}
	}
	if _, err := buildBidBodies(rand.New(rand.NewPCG(1, 1)), crs[:2], 1, 3, 3); err == nil {
		t.Fatal("3 slots from 2 creatives accepted")
	}
}
