// Package browser drives a real headless Chromium for tests, through the W3C
// WebDriver protocol spoken by chromedriver (plain net/http and JSON).
//
// In a test:
//
//	b := browser.New(t) // skips the test when Chromium is not installed
//	res, err := b.ShowAd(ctx, serveURL, browser.Image)
//
// New starts chromedriver on a free loopback port, opens a session with a new
// empty profile and stops both when the test ends; if the test failed it
// first logs the console and saves a screenshot. ShowAd's kinds are the
// Adshares banner types image and video. The browser accepts test
// certificates (for an https serve_url from httptest.NewTLSServer) and cannot
// reach anything but loopback: every other request goes to a refusing guard
// proxy (see guard.go). scripts/ensure-chromium.sh installs Debian's chromium and
// chromium-driver packages. A Browser has one window: use it from one
// goroutine at a time.
package browser

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Environment variables that point at the binaries (default: chromium and
// chromedriver on PATH, then Debian's /usr/bin paths).
const (
	EnvChromium     = "BROWSER_CHROMIUM"
	EnvChromedriver = "BROWSER_CHROMEDRIVER"
	// EnvRequire=1 makes a missing browser fail the test instead of
	// skipping it, for a machine where the browser tests must run.
	EnvRequire = "BROWSER_REQUIRE"
)

// ErrNotInstalled is returned by Find when chromium or chromedriver is missing.
var ErrNotInstalled = errors.New("browser: chromium or chromedriver not installed")

// Paths are the two binaries a session needs.
type Paths struct {
	Chromium     string
	Chromedriver string
}

// Find locates chromium and chromedriver; the error wraps ErrNotInstalled and
// says how to install them.
func Find() (Paths, error) {
	var p Paths
	var missing []string
	var err error
	if p.Chromium, err = lookup(EnvChromium, "chromium", "/usr/bin/chromium", "chromium-browser"); err != nil {
		missing = append(missing, err.Error())
	}
	if p.Chromedriver, err = lookup(EnvChromedriver, "chromedriver", "/usr/bin/chromedriver"); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		return Paths{}, fmt.Errorf("%w (%s); run scripts/ensure-chromium.sh as root, "+
			"or apt-get install chromium chromium-driver, or set %s and %s",
			ErrNotInstalled, strings.Join(missing, "; "), EnvChromium, EnvChromedriver)
	}
	return p, nil
}

// lookup returns the binary named by env, or the first of names found.
func lookup(env string, names ...string) (string, error) {
	if v := os.Getenv(env); v != "" {
		if path, err := exec.LookPath(v); err == nil {
			return path, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable", env, v)
	}
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found", names[0])
}

// Skip skips t with a clear message when Chromium or chromedriver is not
// installed (unless BROWSER_REQUIRE=1: then it fails t), and returns the
// binaries otherwise.
func Skip(t testing.TB) Paths {
	t.Helper()
	p, err := Find()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("real-browser test: %v (%s=1)", err, EnvRequire)
		}
		t.Skipf("real-browser test skipped: %v", err)
	}
	return p
}
