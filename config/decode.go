package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// decode fills cfg from v and returns a problem for every value that has
// the wrong type, not just the first: one bad value (auction.tmax: "abc")
// must not hide the other problems of the file. A top-level key that
// failed is decoded again at its default (or empty), so that validation
// sees a sound value there instead of reporting the same key twice or
// tripping over a zero; failed is every key that failed, for validation to
// leave alone.
func decode(v *viper.Viper, cfg *Config) (problems []string, failed []string) {
	errs := decodeErrors(unmarshal(v, cfg))
	if len(errs) == 0 {
		return nil, nil
	}
	known := map[string]reflect.Kind{}
	walkKeys(reflect.TypeOf(Config{}), "", func(key string, t reflect.Type) { known[key] = t.Kind() })
	for _, e := range errs {
		failed = append(failed, e.name)
		kind, ok := known[e.name]
		switch {
		case !ok: // inside a list entry
			problems = append(problems, fmt.Sprintf("%s: %v", e.name, e.err))
		case kind == reflect.Slice || kind == reflect.Map:
			// A document (dsps, ...) may hold secrets: not repeated here.
			problems = append(problems, fmt.Sprintf("%s: %v", e.name, e.err))
		default:
			problems = append(problems, fmt.Sprintf("%s: cannot read %s: %v", e.name, shortValue(v.Get(e.name)), e.err))
		}
		if ok {
			v.Set(e.name, defaults[e.name]) // nil when it has none: empty
		}
	}
	*cfg = Config{}
	// List entries that failed fail again; they were reported above, and
	// their other fields are decoded all the same.
	_ = unmarshal(v, cfg)
	sort.Strings(problems)
	return problems, failed
}

// shortValue shows a value in a problem, cut to a readable length.
func shortValue(val any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(val))
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func unmarshal(v *viper.Viper, cfg *Config) error {
	return v.Unmarshal(cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		documentStringHook,
		mapstructure.StringToTimeDurationHookFunc(),
	)), func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = false })
}

// decodeError is one value that could not be decoded: its key (a dotted
// path, with [i] for list entries) and why.
type decodeError struct {
	name string
	err  error
}

// decodeErrors flattens mapstructure's joined errors into one per value.
func decodeErrors(err error) []decodeError {
	var out []decodeError
	var walk func(name string, err error)
	walk = func(name string, err error) {
		switch e := err.(type) {
		case nil:
		case *mapstructure.DecodeError:
			walk(e.Name(), e.Unwrap())
		case interface{ Unwrap() []error }: // errors.Join of several fields
			for _, inner := range e.Unwrap() {
				walk(name, inner)
			}
		default:
			// A wrapper around more decode errors ("decoding failed due
			// to ..."), or the reason of one.
			var de *mapstructure.DecodeError
			if inner := errors.Unwrap(err); inner != nil && (errors.As(inner, &de) || isJoined(inner)) {
				walk(name, inner)
				return
			}
			out = append(out, decodeError{name: name, err: err})
		}
	}
	walk("config", err)
	return out
}

func isJoined(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

// withoutFailed drops the validation problems about keys that failed to
// decode: they were already reported, and their values are stand-ins.
func withoutFailed(problems, failed []string) []string {
	if len(failed) == 0 {
		return problems
	}
	var out []string
next:
	for _, p := range problems {
		for _, key := range failed {
			if strings.HasPrefix(p, key+":") || strings.HasPrefix(p, key+" ") {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// unknownEntryKeys lists keys inside list entries (dsps[], inventory
// .campaigns[] and their creatives[]) that the bridge does not know, with
// their path (dsps[1].timout): viper sees a list as one value, so
// unknownKeys cannot. Entries given as an env document are read as such.
func unknownEntryKeys(v *viper.Viper) []string {
	var warnings []string
	walkKeys(reflect.TypeOf(Config{}), "", func(key string, t reflect.Type) {
		if t.Kind() != reflect.Slice || t.Elem().Kind() != reflect.Struct {
			return
		}
		raw := v.Get(key)
		if s, ok := raw.(string); ok {
			if yaml.Unmarshal([]byte(s), &raw) != nil {
				return // reported as a decode problem
			}
		}
		unknownIn(key, raw, t, &warnings)
	})
	sort.Strings(warnings)
	return warnings
}

// unknownIn walks raw (as YAML or JSON decoded it) along t, noting keys of
// structs that have no field.
func unknownIn(path string, raw any, t reflect.Type, warnings *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		list, _ := raw.([]any)
		for i, item := range list {
			unknownIn(fmt.Sprintf("%s[%d]", path, i), item, t.Elem(), warnings)
		}
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" && tag != "-" {
				fields[tag] = t.Field(i).Type
			}
		}
		for k, val := range entryMap(raw) {
			// mapstructure matches field names case-insensitively.
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				*warnings = append(*warnings, fmt.Sprintf("unknown key %q is ignored", path+"."+k))
				continue
			}
			unknownIn(path+"."+k, val, ft, warnings)
		}
	}
}

// entryMap is a decoded mapping with string keys, or nil.
func entryMap(raw any) map[string]any {
	switch m := raw.(type) {
	case map[string]any:
		return m
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out
	}
	return nil
}
