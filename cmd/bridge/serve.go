package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/adshares/dsp-bridge/service"
)

func init() {
	register("serve", "run the bridge (applies migrations first)", serveCmd)
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("serve", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	applyGOGC(cfg.Runtime.GOGC, lookupEnv)
	// SIGHUP reloads the DSP settings. Registered before the (possibly
	// slow) start, so that an early SIGHUP does not kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log, closeLog := service.NewLogger(os.Stderr, cfg.Log)
	// Last: every line the stopping service logs reaches stderr.
	defer closeLog()
	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			// SIGINT/SIGTERM during start-up (say, while initdb runs): a
			// stop as asked, like one after start, not a start failure.
			fmt.Fprintln(stderr, "bridge: stopped during start-up")
			return nil
		}
		return err
	}
	go svc.ReloadOnSignal(ctx, *path, hup)
	return svc.Run(ctx)
}
