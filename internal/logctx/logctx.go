// Package logctx carries the request id of an AdServer call in its context
// and puts it on every log line written with that context, so one grep on a
// request id finds whatever the request logged, in whichever package; and
// the request's one info line (Line, Info), which the access log writes
// with what the handler put on it (the auction, the event).
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// RequestIDKey is the log attribute that holds the request id.
const RequestIDKey = "request_id"

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	// The nearest of WithRequestID and WithRequest wins; the latter answers
	// with itself, not its id boxed in an interface (an allocation per line).
	switch v := ctx.Value(key{}).(type) {
	case string:
		return v
	case *requestCtx:
		return v.id
	}
	return ""
}

// Handler wraps h so that records logged with a context carrying a request
// id (slog's ...Context methods) get a request_id attribute.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String(RequestIDKey, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
