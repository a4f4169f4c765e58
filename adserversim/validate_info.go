package adserversim

import (
	"encoding/json"
	"net/url"
	"regexp"
)

// Info is what the AdServer keeps of a registered bridge (§6).
type Info struct {
	Name         string
	Version      string
	ServerURL    string // the host's "host" and every campaign's source_host
	InventoryURL string // where E2 is fetched, as is
}

// infoRequired are the nine keys whose absence or null refuses registration.
var infoRequired = []string{"module", "name", "version", "capabilities", "serverUrl", "panelUrl", "privacyUrl", "termsUrl", "inventoryUrl"}

var emailRe = regexp.MustCompile("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")

// ValidateInfo checks a /info.json body with the registrar's rules (§6,
// §4.6, §11): the nine required keys, their types, module "dsp-bridge",
// capabilities, every URL, adsAddress equal to bridgeAddr and serverUrl
// equal to bridgeURL (B) character for character.
func ValidateInfo(body []byte, bridgeAddr, bridgeURL string) error {
	_, err := parseInfo(body, bridgeAddr, bridgeURL)
	return err
}

func parseInfo(body []byte, bridgeAddr, bridgeURL string) (Info, error) {
	c := &checker{doc: "info.json"}
	v, err := decodeJSON(body)
	if err != nil {
		c.fail("", "%v: registration fails", err)
		return Info{}, c.result()
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.fail("", "must be a JSON object, got %s", jsonType(v))
		return Info{}, c.result()
	}
	for _, k := range infoRequired {
		if m[k] == nil {
			c.fail(k, "required key is missing or null: registration is refused")
		}
	}
	if c.ok() && m["module"] != "dsp-bridge" {
		c.fail("module", "must be \"dsp-bridge\", got %s: registration is refused", show(m["module"]))
	}
	for _, k := range []string{"name", "version"} {
		if _, ok := m[k].(string); c.ok() && !ok {
			c.fail(k, "must be a string, got %s (a type error aborts ads:fetch-hosts)", jsonType(m[k]))
		}
	}
	caps, isList := m["capabilities"].([]any)
	if c.ok() && !isList {
		c.fail("capabilities", "must be an array of strings, got %s", jsonType(m["capabilities"]))
	}
	has := map[string]bool{}
	for i, cp := range caps {
		if cp != "ADV" && cp != "PUB" {
			c.fail("capabilities["+itoa(i)+"]", "must be \"ADV\" or \"PUB\", got %s (aborts ads:fetch-hosts)", show(cp))
		}
		s, _ := cp.(string)
		has[s] = true
	}
	if c.ok() && !has["ADV"] {
		c.fail("capabilities", "must contain \"ADV\": the bridge is a demand source")
	}
	for _, k := range []string{"serverUrl", "panelUrl", "privacyUrl", "termsUrl", "inventoryUrl", "landingUrl"} {
		if v, present := m[k]; c.ok() && present && (v != nil || k != "landingUrl") {
			if p := checkInfoURL(v); p != "" {
				c.fail(k, "%s", p)
			}
		}
	}
	if c.ok() {
		server := m["serverUrl"].(string)
		if server != bridgeURL {
			c.fail("serverUrl", "%q must equal the AdServer's dsp-bridge-url %q exactly, or the fallback re-query picks bridge creatives again (§11.2)", server, bridgeURL)
		} else if u, _ := url.Parse(server); u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			c.fail("serverUrl", "%q has a path or query, which the AdServer drops for payment details (§11.1)", server)
		}
	}
	if a, ok := m["adsAddress"].(string); c.ok() && (!ok || a != bridgeAddr) {
		c.fail("adsAddress", "must equal the configured bridge account %q exactly, got %s: registration is refused", bridgeAddr, show(m["adsAddress"]))
	}
	if v, present := m["supportEmail"]; c.ok() && present {
		if s, ok := v.(string); !ok || !emailRe.MatchString(s) {
			c.fail("supportEmail", "%s is not a valid e-mail address (aborts ads:fetch-hosts)", show(v))
		}
	}
	for _, k := range []string{"registrationMode", "mode", "adsTxtDomain"} {
		if v := m[k]; c.ok() && v != nil {
			if _, ok := v.(string); !ok {
				c.fail(k, "must be a string, got %s", jsonType(v))
			}
		}
	}
	if v, present := m["adsTxtRequired"]; c.ok() && present && v != false {
		c.fail("adsTxtRequired", "must be false or absent, got %s: with true the AdServer drops web campaigns", show(v))
	}
	if v, present := m["demandFee"]; c.ok() && present {
		if _, isNum := v.(json.Number); !isNum || !has["ADV"] {
			c.fail("demandFee", "must be a number and needs capability ADV, got %s", show(v))
		}
	}
	if _, present := m["supplyFee"]; c.ok() && present && !has["PUB"] {
		c.fail("supplyFee", "without capability PUB aborts ads:fetch-hosts; leave it out")
	}
	if !c.ok() {
		return Info{}, c.result()
	}
	return Info{
		Name:         m["name"].(string),
		Version:      m["version"].(string),
		ServerURL:    m["serverUrl"].(string),
		InventoryURL: m["inventoryUrl"].(string),
	}, nil
}

// show renders a decoded value for an error message.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return jsonType(v)
	}
	return string(b)
}
