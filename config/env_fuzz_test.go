package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// envDocKeys are the keys that take a JSON or YAML document from the
// environment, with the part of Config they fill.
var envDocKeys = []struct {
	key string
	get func(*Config) any
}{
	{"dsps", func(c *Config) any { return c.DSPs }},
	{"inventory.campaigns", func(c *Config) any { return c.Inventory.Campaigns }},
	{"inventory.keywords", func(c *Config) any { return c.Inventory.Keywords }},
	{"money.rates", func(c *Config) any { return c.Money.Rates }},
}

// FuzzEnvDocument: whatever document arrives in BRIDGE_DSPS and the other
// document variables, loading never panics and fails only with the list of
// problems; what loads, written back as a document, loads the same again.
func FuzzEnvDocument(f *testing.F) {
	f.Add(uint8(0), dspJSON)
	f.Add(uint8(0), `[{"name":"a","endpoint":"http://127.0.0.1:9/bid","breaker":{"failure_rate":0.5,"window":10},"headers":{"X-K":"v"},"gzip":true,"max_bids_per_imp":2}]`)
	f.Add(uint8(0), "- name: y\n  endpoint: http://127.0.0.1:1/\n  timeout: 300ms\n  seat: s1\n")
	f.Add(uint8(0), `[{"name":"a","endpoint":"http://127.0.0.1:9/bid","timout":"1s","timeout":[1]}]`)
	f.Add(uint8(1), campaignJSON)
	f.Add(uint8(1), `[{"id":"5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50","creatives":[{"type":"video","mime":"video/mp4","size":"640x360"}]}]`)
	f.Add(uint8(2), `{"quality": ["low"], "category": ["news", "sport"]}`)
	f.Add(uint8(3), `{"EUR": "1.1", "krw": "0.00075"}`)
	f.Add(uint8(3), `{EUR: 1.1}`)
	f.Fuzz(func(t *testing.T, which uint8, doc string) {
		if strings.IndexByte(doc, 0) >= 0 {
			return // an environment variable cannot hold a NUL byte
		}
		k := envDocKeys[int(which)%len(envDocKeys)]
		t.Setenv(EnvName(k.key), doc)
		cfg, _, err := Load(writeFile(t, minimal))
		if err != nil {
			if _, ok := AsProblems(err); !ok {
				t.Fatalf("%s=%q: error %v is not a problem list", EnvName(k.key), doc, err)
			}
			return
		}
		back, err := json.Marshal(toTree(reflect.ValueOf(k.get(cfg))))
		if err != nil {
			t.Fatalf("%s: loaded value does not encode: %v", k.key, err)
		}
		t.Setenv(EnvName(k.key), string(back))
		again, _, err := Load(writeFile(t, minimal))
		if err != nil {
			t.Fatalf("%s=%q loaded, but written back as %s: %v", k.key, doc, back, err)
		}
		if got, want := k.get(again), k.get(cfg); !reflect.DeepEqual(normalizeEmpty(got), normalizeEmpty(want)) &&
			!reflect.DeepEqual(emptyAsNull(t, got), emptyAsNull(t, want)) {
			t.Fatalf("%s=%q loaded as %#v, written back as %s loads as %#v", k.key, doc, want, back, got)
		}
	})
}

// normalizeEmpty makes an empty list or map and a missing one alike (a
// document "[]" and no document mean the same).
func normalizeEmpty(v any) any {
	rv := reflect.ValueOf(v)
	if (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.Len() == 0 {
		return nil
	}
	return v
}

// emptyAsNull is v as a JSON tree in which every empty list or object is
// null: a list key left out and one written back as [] mean the same, at
// any depth (dsps[].only.sizes, dsps[].privacy.gpp_sid, ...).
func emptyAsNull(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	var tree any
	json.Unmarshal(b, &tree)
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case []any:
			if len(x) == 0 {
				return nil
			}
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			if len(x) == 0 {
				return nil
			}
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return x
	}
	return walk(tree)
}
