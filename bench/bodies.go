package bench

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"

	"github.com/adshares/dsp-bridge/adserversim"
)

// Everything the load generator sends is built here, before the clock runs:
// /bid bodies exactly as the AdServer encodes them, the OpenRTB requests
// the bridge made of them (for the floor), and view/click query templates.

// bidBody is one pre-built /bid call.
type bidBody struct {
	body      []byte
	creatives []int    // creative index of each slot; slot i has request_id "i"
	ids       []string // the request_ids sent
}

// rtbBody is one BidRequest as a DSP received it from the bridge, which the
// floor sends through the zero-logic proxy and straight to the DSPs.
type rtbBody struct {
	body []byte
	imps int
}

// buildBidBodies makes n /bid bodies with realistic contexts
// (adserversim.RandomImpression) and slots in [minSlots, maxSlots], each
// slot a different creative.
func buildBidBodies(r *rand.Rand, creatives []adserversim.Creative, n, minSlots, maxSlots int) ([]bidBody, error) {
	if maxSlots > len(creatives) {
		return nil, fmt.Errorf("bench: %d slots per /bid but only %d creatives", maxSlots, len(creatives))
	}
	out := make([]bidBody, n)
	for i := range out {
		k := minSlots + r.IntN(maxSlots-minSlots+1)
		picks := r.Perm(len(creatives))[:k]
		slots := make([]adserversim.Slot, k)
		ids := make([]string, k)
		for p, c := range picks {
			slots[p] = adserversim.Slot{Position: p, CreativeID: creatives[c].ID}
			ids[p] = slots[p].RequestID()
		}
		body, err := adserversim.BidBody(adserversim.RandomImpression(r), slots)
		if err != nil {
			return nil, err
		}
		out[i] = bidBody{body: body, creatives: picks, ids: ids}
	}
	return out, nil
}

// Sentinels stand in for the ext_id and the case id while a template is
// made; both pass adserversim's URL encoding unchanged.
const (
	extIDSentinel = "XBENCHEXTIDX"
	cidSentinel   = "XBENCHCIDX"
)

// eventTemplate is the query string of a view or click call as the
// AdServer builds it (adserversim.EventURL), cut around the ext_id and the
// case id: query = pre + ext_id + mid + case_id + post. Ext ids are
// base64url and case ids hex, which URL encoding leaves as they are.
type eventTemplate struct{ pre, mid, post string }

func (t eventTemplate) query(extID, caseID string) string {
	var b strings.Builder
	b.Grow(len(t.pre) + len(extID) + len(t.mid) + len(caseID) + len(t.post))
	b.WriteString(t.pre)
	b.WriteString(extID)
	b.WriteString(t.mid)
	b.WriteString(caseID)
	b.WriteString(t.post)
	return b.String()
}

// buildEventTemplates makes n templates from random browser events
// (adserversim.RandomEvent) on the pages of random impressions.
func buildEventTemplates(r *rand.Rand, adserverAddr string, n int, click bool) ([]eventTemplate, error) {
	out := make([]eventTemplate, n)
	for i := range out {
		ev := adserversim.RandomEvent(r, adserversim.RandomImpression(r))
		ev.CaseID = cidSentinel
		u, err := adserversim.EventURL("http://t/e", extIDSentinel, adserverAddr, ev, click)
		if err != nil {
			return nil, err
		}
		_, q, _ := strings.Cut(u, "?")
		pre, rest, ok1 := strings.Cut(q, extIDSentinel)
		mid, post, ok2 := strings.Cut(rest, cidSentinel)
		if !ok1 || !ok2 || strings.Contains(post, extIDSentinel) || strings.Contains(post, cidSentinel) {
			return nil, fmt.Errorf("bench: event URL %q does not carry the ext_id and case id once each", u)
		}
		out[i] = eventTemplate{pre: pre, mid: mid, post: post}
	}
	return out, nil
}

// eventBase parses a creative's view_url or click_url. The query of a call
// is appended to any query the URL already has, as the AdServer does.
func eventBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bench: event URL %q: %w", raw, err)
	}
	return u, nil
}

// withQuery returns a copy of base with q appended to its query.
func withQuery(base *url.URL, q string) *url.URL {
	u := *base
	if u.RawQuery != "" {
		u.RawQuery += "&" + q
	} else {
		u.RawQuery = q
	}
	return &u
}
