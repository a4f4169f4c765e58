package adserversim

import (
	"maps"
	"net/url"
	"slices"

	"github.com/adshares/dsp-bridge/config"
)

// DefaultClassifier is the AdServer's default classifier-external-name, whose
// entry every imported creative must carry (§7.2).
const DefaultClassifier = "0001000000081a67"

// Campaign is one imported bridge campaign.
type Campaign struct {
	ID        string
	Budget    int64 // clicks per hour
	MaxCPM    int64 // clicks per 1000 views
	Creatives []Creative
}

// Creative is one imported creative: what AdSelect can pick and what the
// AdServer later needs to build view and click calls.
type Creative struct {
	ID         string
	CampaignID string
	Type       string
	Mime       string
	Size       string
	ServeURL   string
	ClickURL   string
	ViewURL    string
}

// ValidateInventory checks an /inventory body with the importer's rules (§7):
// a JSON array of campaigns, every campaign and creative field, ATOM dates,
// 32-hex ids, valid URLs of at most 1024 characters, an empty checksum and,
// when requiredClassifier is not "", its classification entry with keywords
// and signed_at. The error names the first rule broken.
func ValidateInventory(body []byte, requiredClassifier string) error {
	_, err := parseInventory(body, requiredClassifier)
	return err
}

func parseInventory(body []byte, requiredClassifier string) ([]Campaign, error) {
	c := &checker{doc: "inventory"}
	v, err := decodeJSON(body)
	if err != nil {
		c.fail("", "%v (never send an empty body: it clears the inventory)", err)
		return nil, c.result()
	}
	list, ok := v.([]any)
	if !ok {
		c.fail("", "must be a JSON array of campaigns, got %s", jsonType(v))
		return nil, c.result()
	}
	var out []Campaign
	seen := map[string]string{}
	for i, item := range list {
		path := "[" + itoa(i) + "]"
		camp := checkCampaign(c, path, item, requiredClassifier)
		if !c.ok() {
			return nil, c.result()
		}
		if seen[camp.ID] != "" {
			c.fail(path+".id", "campaign id %s repeats %s", camp.ID, seen[camp.ID])
		}
		seen[camp.ID] = path
		for j, cr := range camp.Creatives {
			if p := seen[cr.ID]; p != "" {
				c.fail(path+".creatives["+itoa(j)+"].id", "id %s repeats %s: E3 could not tell which creative a creative_id means", cr.ID, p)
			}
			seen[cr.ID] = path + ".creatives[" + itoa(j) + "]"
		}
		out = append(out, camp)
	}
	return out, c.result()
}

func checkCampaign(c *checker, path string, item any, classifier string) Campaign {
	m, ok := item.(map[string]any)
	if !ok {
		c.fail(path, "campaign must be an object, got %s", jsonType(item))
		return Campaign{}
	}
	id, _ := m["id"].(string)
	if !isHex32(id) {
		c.fail(path+".id", "must be 32 lowercase hex, got %s: a missing or non-hex id crashes the import run", show(m["id"]))
	}
	if v, present := m["landing_url"]; !present {
		c.fail(path+".landing_url", "key is required (missing: campaign skipped)")
	} else if _, ok := v.(string); !ok {
		c.fail(path+".landing_url", "must be a string, got %s (null crashes the import run)", jsonType(v))
	}
	for _, k := range []string{"date_start", "created_at", "updated_at"} {
		if p := checkATOM(m[k]); p != "" {
			c.fail(path+"."+k, "%s: crashes the import run", p)
		}
	}
	if v, present := m["date_end"]; !present {
		c.fail(path+".date_end", "key is required, null for no end (missing: campaign skipped)")
	} else if v != nil {
		if p := checkATOM(v); p != "" {
			c.fail(path+".date_end", "%s: crashes the import run", p)
		} else if s, _ := m["date_start"].(string); c.ok() && v.(string) <= s {
			c.fail(path+".date_end", "must be later than date_start (campaign skipped)")
		}
	}
	if v, present := m["medium"]; present {
		if _, ok := v.(string); !ok {
			c.fail(path+".medium", "must be a string, got %s", jsonType(v))
		}
	}
	if v := m["vendor"]; v != nil {
		if _, ok := v.(string); !ok {
			c.fail(path+".vendor", "must be a string or null, got %s", jsonType(v))
		}
	}
	money := map[string]int64{}
	for _, k := range []string{"max_cpc", "max_cpm", "budget"} {
		n, ok := jsonInt(m[k])
		switch {
		case !ok:
			c.fail(path+"."+k, "must be an integer number of clicks, got %s (missing crashes the import run; null is cast to 0)", show(m[k]))
		case n < 0:
			c.fail(path+"."+k, "must not be negative (campaign skipped)")
		case k == "budget" && n == 0:
			c.fail(path+".budget", "must be greater than 0 (campaign skipped)")
		}
		money[k] = n
	}
	for _, k := range []string{"targeting_requires", "targeting_excludes"} {
		v, present := m[k]
		t, ok := asObject(v)
		switch {
		case !present:
			c.fail(path+"."+k, "key is required (missing: campaign skipped)")
		case !ok:
			c.fail(path+"."+k, "must be an object (or []), got %s", jsonType(v))
		}
		for _, key := range slices.Sorted(maps.Keys(t)) {
			if _, ok := asObject(t[key]); !slices.Contains([]string{"site", "user", "device"}, key) || !ok {
				c.fail(path+"."+k+"."+key, "targeting must be an object under site, user or device")
			}
		}
	}
	if _, present := m["status"]; present {
		c.fail(path+".status", "must not be sent: the AdServer only accepts its own integer statuses")
	}
	key := "creatives"
	if _, present := m[key]; !present {
		key = "banners"
	}
	list, ok := m[key].([]any)
	if !ok {
		c.fail(path+".creatives", "must be an array, got %s (neither creatives nor banners crashes the import run)", jsonType(m[key]))
	}
	camp := Campaign{ID: id, Budget: money["budget"], MaxCPM: money["max_cpm"]}
	for j, cv := range list {
		cr := checkCreative(c, path+"."+key+"["+itoa(j)+"]", cv, classifier)
		cr.CampaignID = id
		camp.Creatives = append(camp.Creatives, cr)
	}
	return camp
}

func checkCreative(c *checker, path string, item any, classifier string) Creative {
	m, ok := item.(map[string]any)
	if !ok {
		c.fail(path, "creative must be an object, got %s", jsonType(item))
		return Creative{}
	}
	var cr Creative
	cr.ID, _ = m["id"].(string)
	if !isHex32(cr.ID) {
		c.fail(path+".id", "must be 32 lowercase hex, got %s: crashes the import run", show(m["id"]))
	}
	cr.Type, _ = m["type"].(string)
	mimes, ok := config.Mimes[cr.Type]
	if !ok {
		c.fail(path+".type", "must be \"image\" or \"video\", got %s", show(m["type"]))
	}
	cr.Mime, _ = m["mime"].(string)
	if _, present := m["mime"]; !present {
		c.fail(path+".mime", "key is required (campaign skipped)")
	} else if ok && !slices.Contains(mimes, cr.Mime) {
		c.fail(path+".mime", "%s is not a taxonomy MIME for type %s %v", show(m["mime"]), cr.Type, mimes)
	}
	cr.Size, _ = m["size"].(string)
	if _, _, ok := config.ParseSize(cr.Size); !ok || len(cr.Size) > 16 {
		c.fail(path+".size", "must be a WxH scope of 1-16 characters, got %s (campaign skipped)", show(m["size"]))
	}
	for _, k := range []string{"serve_url", "click_url", "view_url"} {
		if p := checkInventoryURL(m[k]); p != "" {
			c.fail(path+"."+k, "%s", p)
		}
	}
	cr.ServeURL, _ = m["serve_url"].(string)
	cr.ClickURL, _ = m["click_url"].(string)
	cr.ViewURL, _ = m["view_url"].(string)
	for _, kv := range [][2]string{{"click_url", cr.ClickURL}, {"view_url", cr.ViewURL}} {
		if u, err := url.Parse(kv[1]); c.ok() && (err != nil || u.Scheme != "http" && u.Scheme != "https") {
			c.fail(path+"."+kv[0], "%q must be an absolute http(s) URL: the AdServer calls it with Guzzle", kv[1])
		}
	}
	if v, present := m["checksum"]; present && v != "" {
		c.fail(path+".checksum", "must be \"\" or absent, got %s: a checksum makes the browser hide an ad whose bytes differ, non-hex crashes the import run", show(v))
	}
	cls, ok := asObject(m["classification"])
	if !ok {
		c.fail(path+".classification", "must be an object keyed by classifier, got %s", jsonType(m["classification"]))
	}
	if classifier == "" {
		return cr
	}
	entry, present := cls[classifier]
	if !present {
		c.fail(path+".classification", "no entry for the required classifier %s: the creative is silently dropped", classifier)
		return cr
	}
	em, ok := entry.(map[string]any)
	if !ok {
		c.fail(path+".classification."+classifier, "must be an object with keywords and signed_at, got %s", jsonType(entry))
		return cr
	}
	if p := checkATOM(em["signed_at"]); p != "" {
		c.fail(path+".classification."+classifier+".signed_at", "%s: crashes the import run", p)
	}
	kw, ok := asObject(em["keywords"])
	if !ok {
		c.fail(path+".classification."+classifier+".keywords", "must be an object of string arrays, got %s", jsonType(em["keywords"]))
	}
	for _, name := range slices.Sorted(maps.Keys(kw)) {
		vals := kw[name]
		arr, ok := vals.([]any)
		for _, s := range arr {
			if _, isStr := s.(string); !isStr {
				ok = false
			}
		}
		if !ok {
			c.fail(path+".classification."+classifier+".keywords."+name, "must be an array of strings, got %s", show(vals))
		}
	}
	return cr
}
