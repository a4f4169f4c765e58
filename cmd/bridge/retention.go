package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/adshares/dsp-bridge/internal/table"
	"github.com/adshares/dsp-bridge/retention"
	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("retention status", "partitions of auctions, events, outbox: sizes, what is dropped when, and why not yet", retentionStatusCmd)
	register("retention run", "create partitions ahead and drop the expired ones now (what serve does every retention.check_interval)", retentionRunCmd)
}

// openKeeper loads the config and connects for a retention command.
func openKeeper(ctx context.Context, name string, args []string, stderr io.Writer) (*retention.Keeper, *string, func(), error) {
	fs, path := newFlags(name, stderr)
	format := fs.String("format", "table", "output `format`: table or json")
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, nil, err
	}
	if *format != "table" && *format != "json" {
		return nil, nil, nil, &exitError{code: 2, err: errors.New("--format must be table or json")}
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Database.URL == "" {
		return nil, nil, nil, fmt.Errorf("%s needs database.url (BRIDGE_DATABASE_URL) of the bridge's database", name)
	}
	st, err := store.Open(ctx, cfg.Database.URL, 2)
	if err != nil {
		return nil, nil, nil, err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return retention.New(st, cfg, log), format, st.Close, nil
}

func retentionStatusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	k, format, closeFn, err := openKeeper(ctx, "retention status", args, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	now, err := k.Store.Now(ctx)
	if err != nil {
		return err
	}
	plan, err := k.Plan(ctx, now)
	if err != nil {
		return err
	}
	return retention.WriteStatus(stdout, k.NewStatus(plan, now), *format)
}

func retentionRunCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	k, format, closeFn, err := openKeeper(ctx, "retention run", args, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	res, err := k.RunOnce(ctx)
	if err != nil {
		return err
	}
	if !res.Ran {
		return &exitError{code: 1, err: errors.New("another bridge is running retention right now; try again")}
	}
	if *format == "json" {
		err = table.WriteJSON(stdout, res)
	} else {
		fmt.Fprintf(stdout, "created %d partitions, dropped %d, %d expired but kept, %d pending notices given up\n",
			len(res.Created), len(res.Dropped), len(res.Blocked), res.Expired)
		for _, v := range res.Dropped {
			fmt.Fprintf(stdout, "  dropped %s (%s): %s\n", v.Name, retention.Bytes(v.Bytes), v.Reason)
		}
		for _, v := range res.Blocked {
			fmt.Fprintf(stdout, "  kept    %s: %s\n", v.Name, v.Reason)
		}
	}
	if err != nil {
		return err
	}
	if len(res.Failures) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d partition(s) not dropped: %v", len(res.Failures), res.Failures)}
	}
	return nil
}
