package config

import (
	"encoding/json"
	"net/url"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// YAML renders the redacted effective configuration.
func (c *Config) YAML() string { return fmtAny(c.Redacted()) }

func fmtAny(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Redacted returns the effective configuration as a plain tree for printing,
// with secrets (database and proxy passwords, DSP header values) replaced.
func (c *Config) Redacted() map[string]any {
	var tree map[string]any
	b, _ := json.Marshal(toTree(reflect.ValueOf(*c)))
	json.Unmarshal(b, &tree)
	if db, ok := tree["database"].(map[string]any); ok {
		db["url"] = redactURL(c.Database.URL)
	}
	if ob, ok := tree["outbox"].(map[string]any); ok {
		ob["proxy"] = redactURL(c.Outbox.Proxy)
	}
	if dsps, ok := tree["dsps"].([]any); ok {
		for _, d := range dsps {
			if h, ok := d.(map[string]any)["headers"].(map[string]any); ok {
				for k := range h {
					h[k] = "REDACTED"
				}
			}
		}
	}
	return tree
}

// toTree turns a config value into maps keyed by the operator's key names,
// with durations as strings ("1s") rather than nanoseconds.
func toTree(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		for i := range v.NumField() {
			tag := v.Type().Field(i).Tag.Get("mapstructure")
			if tag != "" && tag != "-" {
				m[tag] = toTree(v.Field(i))
			}
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = toTree(v.Index(i))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toTree(v.Elem())
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return v.Interface()
}

// redactURL hides the password of a connection URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	return u.String()
}
