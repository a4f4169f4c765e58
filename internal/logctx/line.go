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
