package browser

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// New starts a browser for t, or skips t when Chromium is not installed (see
// Skip). A browser that is installed but does not start fails t. When t ends
// the browser is closed; if t failed, a screenshot, the console log and any
// refused off-loopback requests are reported first.
func New(t testing.TB) *Browser {
	t.Helper()
	paths := Skip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := Start(ctx, Options{Paths: paths})
	if err != nil {
		t.Fatalf("start browser: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.diagnose(t)
		}
		if err := b.Close(); err != nil {
			t.Logf("close browser: %v", err)
		}
	})
	return b
}

// diagnose logs what a failed test's browser showed.
func (b *Browser) diagnose(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if u, err := b.URL(ctx); err == nil {
		t.Logf("browser: page %s", u)
	}
	if logs, err := b.Logs(ctx); err == nil {
		for _, e := range logs {
			t.Logf("browser console %s: %s", e.Level, e.Message)
		}
	}
	if r := b.Refused(); len(r) > 0 {
		t.Logf("browser: refused off-loopback requests: %v", r)
	}
	png, err := b.Screenshot(ctx)
	if err != nil {
		t.Logf("browser: no screenshot: %v", err)
		return
	}
	path := screenshotPath(t)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("browser: save screenshot: %v", err)
		return
	}
	t.Logf("browser: screenshot %s", path)
}

// screenshotPath is in the test's artifact directory when go test runs with
// -artifacts (kept there), else a fixed file per test in the temporary
// directory (overwritten by the next failure of the same test, so failures
// do not pile up).
func screenshotPath(t testing.TB) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return filepath.Join(t.ArtifactDir(), "screenshot.png")
	}
	dir := filepath.Join(os.TempDir(), "dsp-bridge-browser-failures")
	os.MkdirAll(dir, 0o755)
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	return filepath.Join(dir, name+".png")
}
