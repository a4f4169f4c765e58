package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/bench"
	"github.com/adshares/dsp-bridge/internal/table"
)

func init() {
	register("bench", "load test: the bridge (durable PostgreSQL, simulated DSPs) against a zero-logic floor, then a books check", benchCmd)
	registerHidden("bench proxy", benchProxyCmd)
}

// benchHook, if set, adjusts a run's options just before it starts (tests
// use it to lose a view on purpose).
var benchHook func(*bench.Options)

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parseSlots reads --slots: N or MIN-MAX.
func parseSlots(s string) (int, int, error) {
	lo, hi, ranged := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, fmt.Errorf("--slots %q: want N or MIN-MAX", s)
	}
	b := a
	if ranged {
		if b, err = strconv.Atoi(hi); err != nil {
			return 0, 0, fmt.Errorf("--slots %q: want N or MIN-MAX", s)
		}
	}
	return a, b, nil
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridge bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.Options
	fs.IntVar(&o.DSPs, "dsps", 1, "simulated DSPs that bid on every slot")
	fs.BoolVar(&o.HungDSP, "hung-dsp", false, "add one more DSP that never answers")
	slots := fs.String("slots", "1", "slots per /bid: `N` or MIN-MAX (at most "+strconv.Itoa(bench.MaxSlots)+")")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "concurrent AdServer callers (closed loop); with --rate, the most calls in flight")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: start this many calls per second per system, whatever the answers take; latency counts from each call's scheduled start (0: closed loop)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per system, all rounds together")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each measures every system duration/rounds, in a rotating order")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured warm-up per system before the rounds")
	mode := fs.String("mode", "auction", "what to measure: auction (/bid), views (views of distinct wins) or mixed (/bid with views and clicks)")
	fs.Float64Var(&o.ViewFraction, "view-fraction", 0.1, "mixed mode: share of wins viewed")
	fs.Float64Var(&o.ClickFraction, "click-fraction", 0.1, "mixed mode: share of views clicked")
	fs.DurationVar(&o.DSPLatency, "dsp-latency", 0, "every simulated DSP answers after this")
	fs.BoolVar(&o.NoBURL, "no-burl", false, "the DSPs' bids carry no burl, so a view costs no notice delivery (the view path alone)")
	fs.DurationVar(&o.TMax, "tmax", time.Second, "auction.tmax of the bridge (DSP timeouts are 80% of it, in the floor too)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed of the traffic")
	noFloor := fs.Bool("no-floor", false, "measure the bridge only (no floor proxy, no direct calls)")
	fs.BoolVar(&o.Pprof, "pprof", false, "turn on pprof on the bridge's metrics port (the address is printed)")
	var env listFlag
	fs.Var(&env, "bridge-env", "`KEY=VALUE` for the bridge's environment, e.g. BRIDGE_LOG_LEVEL=warn (repeatable; inherited BRIDGE_* are dropped)")
	chaos := fs.Bool("chaos", false, "chaos soak instead of a measurement: faulty DSPs, a PostgreSQL restart and crash, a kill -9 of the bridge, for --duration of mixed traffic; then a reconciliation")
	fs.Float64Var(&o.FaultRate, "fault-rate", bench.DefaultFaultRate, "--chaos: share of requests to each DSP surface (bid, nurl, burl) that fail")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	keep := fs.Bool("keep", false, "after the report, keep PostgreSQL and the bridge running until Ctrl-C")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the bench process itself (generator and DSPs) to `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))}
	}
	var err error
	if o.MinSlots, o.MaxSlots, err = parseSlots(*slots); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("bench: %w", err)}
	}
	o.Mode, o.Floor, o.Env, o.Progress = bench.Mode(*mode), !*noFloor, env, stderr
	if o.Exe, err = os.Executable(); err != nil {
		return fmt.Errorf("bench: cannot find the bridge binary: %w", err)
	}
	if err := o.Validate(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("bench: %w", err)}
	}
	if *chaos {
		if err := o.ValidateChaos(); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("bench: %w", err)}
		}
		return chaosCmd(ctx, o, args, *jsonOut, stdout)
	}
	write := func(r *bench.Report) error {
		r.Command = strings.TrimSpace("bridge bench " + strings.Join(args, " "))
		if *jsonOut {
			return table.WriteJSON(stdout, r)
		}
		r.WriteTable(stdout)
		return nil
	}
	printed := false
	if *keep {
		o.Hold = func(r *bench.Report, h bench.HoldInfo) {
			write(r)
			printed = true
			fmt.Fprintf(stderr, "\nEverything keeps running (--keep) until Ctrl-C:\n  bridge    %s  (metrics and pprof: http://%s)\n  database  %s\n  config    %s\n  logs      %s\n",
				h.BridgeURL, h.MetricsAddr, h.DatabaseURL, h.ConfigPath, h.Dir)
			<-ctx.Done()
		}
	}
	if benchHook != nil {
		benchHook(&o)
	}
	r, err := bench.Run(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: 130, err: errors.New("bench: interrupted")}
		}
		return err
	}
	if !printed {
		if err := write(r); err != nil {
			return err
		}
	}
	if !r.OK {
		return &exitError{code: 1, err: fmt.Errorf("bench: %d problem(s): %s", len(r.Problems), strings.Join(r.Problems, "; "))}
	}
	return nil
}

// benchProxyCmd is the floor of `bridge bench`, run as its own process.
func benchProxyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridge bench proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "`address` to listen on")
	timeout := fs.Duration("timeout", 800*time.Millisecond, "per DSP call")
	database := fs.String("database", "", "PostgreSQL `URL`: store each view durably before answering it (views mode)")
	var dsps listFlag
	fs.Var(&dsps, "dsp", "DSP bid endpoint `URL` (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(dsps) == 0 {
		return &exitError{code: 2, err: errors.New("bench proxy: at least one --dsp")}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	proxy := bench.NewProxy(dsps, *timeout)
	if *database != "" {
		if proxy.Views, err = bench.OpenFloorViews(ctx, *database); err != nil {
			l.Close()
			return err
		}
		defer proxy.Views.Close()
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// chaosCmd is `bridge bench --chaos`.
func chaosCmd(ctx context.Context, o bench.Options, args []string, jsonOut bool, stdout io.Writer) error {
	if benchHook != nil {
		benchHook(&o)
	}
	r, err := bench.RunChaos(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: 130, err: errors.New("bench: interrupted")}
		}
		return err
	}
	r.Command = strings.TrimSpace("bridge bench " + strings.Join(args, " "))
	if jsonOut {
		err = table.WriteJSON(stdout, r)
	} else {
		r.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if !r.OK {
		return &exitError{code: 1, err: fmt.Errorf("bench --chaos: %d problem(s): %s", len(r.Problems), strings.Join(r.Problems, "; "))}
	}
	return nil
}
