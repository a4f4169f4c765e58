package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// asBridge makes this test binary act as the bridge binary: `bridge bench`
// runs os.Executable() as `serve` and `bench proxy`, which under go test is
// this binary. (Not a BRIDGE_* name: the bench drops those for its children.)
const asBridge = "DSPBRIDGE_TEST_AS_BRIDGE"

func TestMain(m *testing.M) {
	if os.Getenv(asBridge) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestExitCodes: usage errors exit 2 and are reported once; -h exits 0.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0},
		{[]string{"version", "-h"}, 0},
		{[]string{"nosuch"}, 2},
		{[]string{"version", "--bogus"}, 2},
		{[]string{"serve", "--bogus"}, 2},
		{[]string{"config", "check", "--config"}, 2},
		{[]string{"demo", "--rate", "many"}, 2},
		{[]string{"demo", "--config", "x.yaml"}, 2},
		{[]string{"dsp", "simulate", "--bogus"}, 2},
		{[]string{"dsp", "simulate", "--creative", "html"}, 2},
		{[]string{"dsp", "simulate", "--creative", "image", "--image-size", "big"}, 2},
		{[]string{"dsp", "simulate", "--creative", "vast", "--video-file", "/nonexistent/video.mp4"}, 2},
		{[]string{"dsp", "simulate", "--creative", "vast", "--video-mime", "video/ogg"}, 2},
		{[]string{"payments", "list", "--bogus"}, 2},
		{[]string{"demo", "--rate", "0"}, 2},
		{[]string{"bench", "--bogus"}, 2},
		{[]string{"bench", "--slots", "2-1"}, 2},
		{[]string{"bench", "--slots", "many"}, 2},
		{[]string{"bench", "--mode", "fast", "--dsps", "0"}, 2},
		{[]string{"bench", "extra"}, 2},
		{[]string{"bench", "proxy"}, 2},
	} {
		var stderr strings.Builder
		code := run(context.Background(), tc.args, io.Discard, &stderr)
		if code != tc.code {
			t.Errorf("bridge %s: exit %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr.String())
		}
		for _, msg := range []string{"flag provided but not defined", "invalid value", "flag needs an argument"} {
			if n := strings.Count(stderr.String(), msg); n > 1 {
				t.Errorf("bridge %s: %q reported %d times:\n%s", strings.Join(tc.args, " "), msg, n, stderr.String())
			}
		}
	}
}

// The floor proxy is plumbing of `bench`: runnable, not listed.
func TestUsageHidesPlumbing(t *testing.T) {
	var out strings.Builder
	run(context.Background(), []string{"help"}, &out, io.Discard)
	if !strings.Contains(out.String(), "  bench ") || strings.Contains(out.String(), "bench proxy") {
		t.Fatalf("usage:\n%s", out.String())
	}
}
