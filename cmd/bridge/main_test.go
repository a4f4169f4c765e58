package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

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
