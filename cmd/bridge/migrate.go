package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/adshares/dsp-bridge/store"
)

func init() {
	register("migrate", "apply database migrations and exit", migrateCmd)
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if cfg.Database.URL == "" {
		return errors.New("migrate needs database.url (BRIDGE_DATABASE_URL); `bridge serve` migrates a throwaway database by itself")
	}
	st, err := store.Open(ctx, cfg.Database.URL, 2)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v\n", applied)
	return nil
}
