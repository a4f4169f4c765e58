package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	register("config check", "validate the config and print it with secrets redacted", configCheckCmd)
	register("version", "print the version", versionCmd)
}

func configCheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("config check", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, cfg.YAML())
	fmt.Fprintln(stderr, "bridge: configuration is valid")
	return nil
}

func versionCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlags("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "bridge", version)
	return nil
}
