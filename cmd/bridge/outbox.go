package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/adshares/dsp-bridge/outbox"
	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("outbox status", "count burl/nurl notices per DSP: pending, retrying, delivered, undelivered", outboxStatusCmd)
}

func outboxStatusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("outbox status", stderr)
	format := fs.String("format", "table", "output `format`: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return &exitError{code: 2, err: errors.New("--format must be table or json")}
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
	stats, err := st.OutboxStatsByDSP(ctx)
	if err != nil {
		return err
	}
	return outbox.WriteStatus(stdout, stats, *format, time.Now())
}
