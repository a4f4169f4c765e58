package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("outbox status", "count burl/nurl notices per DSP (--from --to): pending, retrying, delivered, undelivered", outboxStatusCmd)
}

func outboxStatusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("outbox status", stderr)
	format := fs.String("format", "table", "output `format`: table or json")
	fromFlag := fs.String("from", "", "notices created from `time`, inclusive (default: to minus 24h)")
	toFlag := fs.String("to", "", "notices created before `time` (default: now)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return &exitError{code: 2, err: errors.New("--format must be table or json")}
	}
	now := time.Now()
	to := now.Add(time.Second)
	if *toFlag != "" {
		t, err := parseWhen(*toFlag)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--to: %w", err)}
		}
		to = t
	}
	from := to.Add(-24 * time.Hour)
	if *fromFlag != "" {
		t, err := parseWhen(*fromFlag)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--from: %w", err)}
		}
		from = t
	}
	if !from.Before(to) {
		return &exitError{code: 2, err: errors.New("--from must be before --to")}
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if cfg.Database.URL == "" {
		return errors.New("outbox status needs database.url (BRIDGE_DATABASE_URL)")
	}
	st, err := store.Open(ctx, cfg.Database.URL, 2)
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := st.OutboxStats(ctx, from, to)
	if err != nil {
		return err
	}
	return outbox.WriteStatus(stdout, stats, *format, now)
}
