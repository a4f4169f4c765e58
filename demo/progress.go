package demo

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// progress prints one line a second to Options.Progress until stopped:
// auctions, wins per DSP, views, clicks, notices delivered, breakers.
func (e *Env) progress(ctx context.Context, tr *traffic, start time.Time, done chan<- struct{}) (stop func()) {
	pctx, cancel := context.WithCancel(ctx)
	if e.Options.Progress == nil {
		close(done)
		return cancel
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				fmt.Fprintln(e.Options.Progress, e.progressLine(pctx, tr, start))
			}
		}
	}()
	return cancel
}

func (e *Env) progressLine(ctx context.Context, tr *traffic, start time.Time) string {
	calls, wins, views, clicks, per := tr.counts()
	var b strings.Builder
	fmt.Fprintf(&b, "[%3ds] auctions %4d  wins %4d (", int(time.Since(start).Seconds()), calls, wins)
	for i, d := range e.DSPs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %d", d.Profile.Name, per[d.Profile.Name])
	}
	fmt.Fprintf(&b, ")  views %4d  clicks %3d", views, clicks)
	if st := e.Service.Store; st != nil {
		if stats, err := st.OutboxStatsByDSP(ctx); err == nil {
			var delivered, pending int64
			for _, s := range stats {
				delivered += s.Delivered
				pending += s.Pending
			}
			fmt.Fprintf(&b, "  notices %d delivered %d pending", delivered, pending)
		}
	}
	b.WriteString("  breakers")
	for _, d := range e.DSPs {
		st, _ := e.breakers.get(d.Profile.Name)
		if st != "closed" {
			st = strings.ToUpper(st)
		}
		fmt.Fprintf(&b, " %s:%s", d.Profile.Name, st)
	}
	return b.String()
}
