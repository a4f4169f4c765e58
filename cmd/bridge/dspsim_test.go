package main

import (
	"bytes"
	"context"
	"github.com/adshares/dsp-bridge/internal/testlog"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `bridge dsp simulate --creative vast --vast-wrapper --video-file F` bids a
// VAST wrapper and serves F as the media file.
func TestDSPSimulateVAST(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	video := []byte("\x00\x00\x00\x18ftypisom video bytes")
	file := filepath.Join(t.TempDir(), "v.mp4")
	if err := os.WriteFile(file, video, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout testlog.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dsp", "simulate", "--listen", addr, "--creative", "vast", "--vast-wrapper", "--video-file", file}, &stdout, io.Discard)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
	}()
	var resp *http.Response
	for {
		// Waiting for the listener, not timing it: the loop ends when the
		// command answers or exits.
		resp, err = http.Post("http://"+addr+"/openrtb2/auction", "application/json",
			strings.NewReader(`{"id":"a","imp":[{"id":"1","video":{"w":640,"h":360}}]}`))
		if err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d before listening: %s", code, stdout.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("<Wrapper>")) || !strings.Contains(stdout.String(), "creative vast") {
		t.Fatalf("bid %s\nstdout %s", body, stdout.String())
	}
	resp, err = http.Get("http://" + addr + "/media/video")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, video) {
		t.Fatalf("media %q", got)
	}
}
