// Command bridge runs the Adshares AdServer ⇄ OpenRTB DSP bridge and its
// operator tools. Run `bridge help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/pglocal"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

// command is one subcommand; args exclude the subcommand's own name.
type command struct {
	summary string
	hidden  bool // plumbing for another command, not listed in the usage
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

// registerHidden adds a command that other commands run (as a child
// process) and that the usage does not list.
func registerHidden(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{hidden: true, run: run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// parseFlags parses a command's flags. A bad flag is a usage error (exit 2,
// like every other usage error), which the flag package has already
// reported together with the command's usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &exitError{code: 2}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	name, rest := args[0], args[1:]
	// Two-word commands: "config check", "payments list", "dsp probe".
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		if _, ok := commands[name+" "+rest[0]]; ok {
			name, rest = name+" "+rest[0], rest[1:]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "bridge: unknown command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, rest, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "bridge:", ee.err)
		}
		return ee.code
	}
	if problems, ok := config.AsProblems(err); ok {
		fmt.Fprintf(stderr, "bridge: invalid configuration, %d problem(s):\n", len(problems))
		for _, p := range problems {
			fmt.Fprintln(stderr, "  -", p)
		}
		return 2
	}
	if errors.Is(err, pglocal.ErrNoBinaries) {
		fmt.Fprintln(stderr, "bridge: database.url is not set, so the bridge wanted a throwaway PostgreSQL, but")
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stderr, "bridge:", err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "bridge: sell an Adshares AdServer's ad slots to OpenRTB DSPs.")
	fmt.Fprintln(w, "\nUsage: bridge COMMAND [--config FILE] [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nSettings come from --config FILE (YAML) and BRIDGE_* environment variables;")
	fmt.Fprintln(w, "see configs/bridge.example.yaml. `bridge COMMAND -h` shows a command's flags.")
}

// newFlags makes a flag set with the --config flag every command takes.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("bridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("BRIDGE_CONFIG"), "YAML config `file` (default $BRIDGE_CONFIG; env BRIDGE_* overrides it)")
	return fs, path
}

// loadConfig loads and validates the config, printing warnings.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, warnings, err := config.Load(path)
	for _, w := range warnings {
		fmt.Fprintln(stderr, "bridge: warning:", w)
	}
	return cfg, err
}
