package logctx

import (
	"context"
	"log/slog"
	"sync"
)

// Line is the one info line of a request: the access log writes it when the
// handler returns, with the request's method, path, status and duration,
// under the message and with the attributes the handler put on it (Info).
// So a /bid or a view is one line, not a request line plus an auction line.
type Line struct {
	mu    sync.Mutex
	msg   string
	attrs []slog.Attr
}

type lineKey struct{}

// WithLine returns ctx carrying a new, empty request line.
func WithLine(ctx context.Context) (context.Context, *Line) {
	l := &Line{}
	return context.WithValue(ctx, lineKey{}, l), l
}

// WithRequest is WithRequestID and WithLine at once: one context, one
// allocation per request instead of three (two context values and the line).
func WithRequest(ctx context.Context, id string) (context.Context, *Line) {
	c := &requestCtx{Context: ctx, id: id}
	return c, &c.line
}

// requestCtx carries a request's id and line.
type requestCtx struct {
	context.Context
	id   string
	line Line
}

func (c *requestCtx) Value(k any) any {
	switch k.(type) {
	case key:
		return c // RequestID reads the id: a string here would be boxed at every call
	case lineKey:
		return &c.line
	}
	return c.Context.Value(k)
}

// Message is the message a handler gave the line, or def if none did.
func (l *Line) Message(def string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msg == "" {
		return def
	}
	return l.msg
}

// Attrs are the attributes a handler put on the line.
func (l *Line) Attrs() []slog.Attr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attrs
}

// claim gives the line msg and attrs unless a handler already gave it a
// message: one line holds one thing's story.
func (l *Line) claim(msg string, attrs []slog.Attr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msg != "" {
		return false
	}
	l.msg, l.attrs = msg, append(l.attrs, attrs...)
	return true
}

// InfoAttrs is Info with attributes only, which it may keep (the caller
// must not change attrs afterwards): no key-value pairs to convert.
func InfoAttrs(ctx context.Context, log *slog.Logger, msg string, attrs ...slog.Attr) {
	if l, ok := ctx.Value(lineKey{}).(*Line); ok && log.Enabled(ctx, slog.LevelInfo) {
		if l.claimOwned(msg, attrs) {
			return
		}
	}
	log.LogAttrs(ctx, slog.LevelInfo, msg, attrs...)
}

// claimOwned is claim of attrs the line may keep as they are.
func (l *Line) claimOwned(msg string, attrs []slog.Attr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msg != "" {
		return false
	}
	l.msg = msg
	if l.attrs == nil {
		l.attrs = attrs
	} else {
		l.attrs = append(l.attrs, attrs...)
	}
	return true
}

// Info logs an info line of a request: onto the request's own line when ctx
// carries one (WithLine) that is still free, else as a line of its own with
// log. args are slog's key-value pairs or Attrs.
func Info(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	if l, ok := ctx.Value(lineKey{}).(*Line); ok && log.Enabled(ctx, slog.LevelInfo) {
		var r slog.Record
		r.Add(args...)
		attrs := make([]slog.Attr, 0, r.NumAttrs())
		r.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a)
			return true
		})
		if l.claim(msg, attrs) {
			return
		}
	}
	log.InfoContext(ctx, msg, args...)
}
