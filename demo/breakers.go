package demo

import (
	"context"
	"log/slog"
	"sync"
)

// breakerMessage is the bridge's log line for a DSP circuit breaker state
// change (bridge.NewAuctioneer). The bridge has no other way to read breaker
// states from outside, so the demo watches its log for them.
const breakerMessage = "dsp circuit breaker changed state"

// breakers records the last breaker state of every DSP and how often each
// one opened, from the bridge's log records.
type breakers struct {
	mu    sync.Mutex
	state map[string]string
	opens map[string]int
}

func (b *breakers) observe(r slog.Record) {
	if r.Message != breakerMessage {
		return
	}
	var dsp, to string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "dsp":
			dsp = a.Value.String()
		case "to":
			to = a.Value.String()
		}
		return true
	})
	if dsp == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state[dsp] = to
	if to == "open" {
		b.opens[dsp]++
	}
}

// get is a DSP's breaker state ("closed" until it changes) and its opens.
func (b *breakers) get(dsp string) (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state[dsp]
	if s == "" {
		s = "closed"
	}
	return s, b.opens[dsp]
}

// watchHandler passes every record on to the bridge's log file and lets
// breakers see it.
type watchHandler struct {
	slog.Handler
	b *breakers
}

func (h watchHandler) Handle(ctx context.Context, r slog.Record) error {
	h.b.observe(r)
	return h.Handler.Handle(ctx, r)
}

func (h watchHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return watchHandler{h.Handler.WithAttrs(as), h.b}
}

func (h watchHandler) WithGroup(name string) slog.Handler {
	return watchHandler{h.Handler.WithGroup(name), h.b}
}
