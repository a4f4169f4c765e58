package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/adshares/dsp-bridge/internal/logctx"
)

func TestRequestIDOnEveryContextLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := logctx.WithRequestID(context.Background(), "r-42")
	log.InfoContext(ctx, "with")
	log.Info("without")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var with, without map[string]any
	json.Unmarshal(lines[0], &with)
	json.Unmarshal(lines[1], &without)
	if with["request_id"] != "r-42" || with["component"] != "test" {
		t.Errorf("line with a context: %v", with)
	}
	if _, ok := without["request_id"]; ok {
		t.Errorf("line without a request id got one: %v", without)
	}
	if logctx.RequestID(context.Background()) != "" {
		t.Error("empty context has a request id")
	}
}
