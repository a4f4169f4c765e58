package config

import "go.yaml.in/yaml/v3"

// YAML renders the redacted effective configuration.
func (c *Config) YAML() string { return fmtAny(c.Redacted()) }

func fmtAny(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
