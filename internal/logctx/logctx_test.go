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

func TestInfoGoesOntoTheRequestLineOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewJSONHandler(&buf, nil)))
	ctx, line := logctx.WithLine(logctx.WithRequestID(context.Background(), "r-1"))
	logctx.Info(ctx, log, "auction", "slots", 2, slog.String("outcome", "won"))
	if buf.Len() != 0 {
		t.Fatalf("the first info line of a request was written on its own: %s", buf.String())
	}
	logctx.Info(ctx, log, "second", "n", 1)
	if line.Message("request") != "auction" {
		t.Errorf("line message %q, want the first one's", line.Message("request"))
	}
	attrs := line.Attrs()
	if len(attrs) != 2 || attrs[0].Key != "slots" || attrs[0].Value.Int64() != 2 || attrs[1].String() != "outcome=won" {
		t.Errorf("line attrs %v", attrs)
	}
	var second map[string]any
	if err := json.Unmarshal(buf.Bytes(), &second); err != nil || second["msg"] != "second" || second["request_id"] != "r-1" {
		t.Errorf("a second info line must be a line of its own with the request id: %s", buf.String())
	}

	// Without a request line (a handler called directly), Info logs.
	buf.Reset()
	logctx.Info(context.Background(), log, "alone")
	if !bytes.Contains(buf.Bytes(), []byte(`"msg":"alone"`)) {
		t.Errorf("Info without a request line: %q", buf.String())
	}
	// At warn level the line is not claimed: nothing would be written.
	quiet := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, line = logctx.WithLine(context.Background())
	logctx.Info(ctx, quiet, "auction")
	if line.Message("request") != "request" {
		t.Errorf("a disabled info line claimed the request line")
	}
}

func TestWithRequestCarriesIDAndLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewJSONHandler(&buf, nil)))
	ctx, line := logctx.WithRequest(context.WithValue(context.Background(), ctxKey{}, "outer"), "r-7")
	if logctx.RequestID(ctx) != "r-7" {
		t.Errorf("request id %q, want r-7", logctx.RequestID(ctx))
	}
	if ctx.Value(ctxKey{}) != "outer" {
		t.Error("values of the parent context are lost")
	}
	attrs := []slog.Attr{slog.String("outcome", "won"), slog.Int("slots", 1)}
	logctx.InfoAttrs(ctx, log, "auction", attrs...)
	if buf.Len() != 0 || line.Message("request") != "auction" || len(line.Attrs()) != 2 || line.Attrs()[1].Value.Int64() != 1 {
		t.Fatalf("InfoAttrs did not go onto the request line: %q %q %v", buf.String(), line.Message("request"), line.Attrs())
	}
	logctx.InfoAttrs(ctx, log, "second", slog.Bool("late", true))
	var second map[string]any
	if err := json.Unmarshal(buf.Bytes(), &second); err != nil || second["msg"] != "second" || second["request_id"] != "r-7" || second["late"] != true {
		t.Errorf("a second InfoAttrs line must be a line of its own with the request id: %s", buf.String())
	}
}

type ctxKey struct{}

// The nearest request id wins, whichever way it was put on the context, and
// reading it from WithRequest's context allocates nothing.
func TestRequestIDNearestWins(t *testing.T) {
	inner, _ := logctx.WithRequest(logctx.WithRequestID(context.Background(), "outer"), "inner")
	if got := logctx.RequestID(inner); got != "inner" {
		t.Errorf("WithRequest over WithRequestID: %q, want inner", got)
	}
	outer := logctx.WithRequestID(inner, "outer")
	if got := logctx.RequestID(outer); got != "outer" {
		t.Errorf("WithRequestID over WithRequest: %q, want outer", got)
	}
	if n := testing.AllocsPerRun(100, func() { logctx.RequestID(inner) }); n != 0 {
		t.Errorf("RequestID of a WithRequest context: %v allocs, want 0", n)
	}
}
