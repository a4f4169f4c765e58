package main

import (
	"context"
	"io"

	"github.com/adshares/dsp-bridge/service"
)

func init() {
	register("serve", "run the bridge (applies migrations first)", serveCmd)
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("serve", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	log := service.NewLogger(cfg.Log.Level)
	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
