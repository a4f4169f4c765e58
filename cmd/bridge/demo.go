package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/ads"
	"github.com/adshares/dsp-bridge/adserversim"
	"github.com/adshares/dsp-bridge/demo"
	"github.com/adshares/dsp-bridge/dspsim"
)

func init() {
	register("demo", "the whole lifecycle on this machine: PostgreSQL, 3 DSPs, the bridge and a simulated AdServer", demoCmd)
}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridge demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 10*time.Second, "how long the simulated AdServer sends traffic")
	rate := fs.Int("rate", 20, "/bid calls per second")
	seed := fs.Uint64("seed", 1, "random seed of the traffic and of the DSPs' prices")
	keep := fs.Bool("keep", false, "leave everything running after the summary, until Ctrl-C")
	dbURL := fs.String("database-url", os.Getenv("BRIDGE_DATABASE_URL"), "use this PostgreSQL instead of a throwaway one (default $BRIDGE_DATABASE_URL)")
	adsRate := fs.String("ads-rate", demo.DefaultADSRate, "USD per ADS the fake rate service (money.rate_url) answers")
	fee := fs.String("fee", "0", "money.fee, the operator's share of every view (e.g. 0.15)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))}
	}
	if *rate < 1 || *rate > 1000 || *duration < time.Second {
		return &exitError{code: 2, err: errors.New("demo: --rate must be 1..1000 and --duration at least 1s")}
	}

	fmt.Fprintf(stdout, "bridge demo: starting a throwaway PostgreSQL, %d simulated DSPs and the bridge...\n", len(demo.DefaultProfiles(*duration)))
	started := time.Now()
	env, err := demo.Start(ctx, demo.Options{Seed: *seed, Rate: *rate, Duration: *duration, DatabaseURL: *dbURL, Progress: stdout,
		ADSRate: *adsRate, Fee: *fee})
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: 130, err: errors.New("demo: interrupted")}
		}
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		fmt.Fprintln(stdout, "bridge demo: stopping the bridge, the DSPs and PostgreSQL...")
		env.Close()
		fmt.Fprintln(stdout, "bridge demo: stopped")
	}()
	fmt.Fprintf(stdout, "  bridge  %s (up in %s)\n", env.Config.BaseURL, time.Since(started).Round(100*time.Millisecond))
	for _, d := range env.DSPs {
		p := d.Profile
		fail := ""
		if p.FailPercent > 0 {
			fail = fmt.Sprintf(", fails %d%%", p.FailPercent)
		}
		if p.OutageTo > p.OutageFrom {
			fail += fmt.Sprintf(", down from %s to %s", p.OutageFrom, p.OutageTo)
		}
		switch p.Creative {
		case dspsim.CreativeImage:
			fail += ", image markup in adm (image slots)"
		case dspsim.CreativeVAST:
			fail += ", VAST with an mp4 in adm (video slots)"
		}
		if p.BadMarkupPercent > 0 {
			fail += fmt.Sprintf(", %d%% unrenderable (a script)", p.BadMarkupPercent)
		}
		fmt.Fprintf(stdout, "  dsp     %-9s %s  bids %s-%s USD CPM on %d%% of slots, latency %s%s\n", p.Name, d.Server.Endpoint(),
			usd(p.MinPrice), usd(p.MaxPrice), p.BidPercent, p.Latency, fail)
	}
	fmt.Fprintf(stdout, "  rates   %s  fake AdsOperator: %s USD per ADS\n", env.RateServer.URL(), *adsRate)
	fmt.Fprintf(stdout, "  config  %s\n  logs    %s\n", env.ConfigPath, env.LogPath)
	fmt.Fprintf(stdout, "AdServer simulator: %d /bid calls a second for %s, then waiting for the payment reports (period %s, settled %s after)...\n",
		*rate, *duration, env.Options.Period, env.Options.SettleAfter)

	sum, err := env.Play(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: 130, err: errors.New("demo: interrupted")}
		}
		return fmt.Errorf("demo: %w (bridge log: %s)", err, env.LogPath)
	}
	sum.WriteTable(stdout)
	problems := sum.Check()
	if *keep {
		printKeep(stdout, env)
		<-ctx.Done()
	}
	if len(problems) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("demo: %d problem(s), see above (bridge log: %s)", len(problems), env.LogPath)}
	}
	return nil
}

func usd(micros int64) string {
	return fmt.Sprintf("%d.%02d", micros/1_000_000, micros%1_000_000/10_000)
}

// printKeep lists what is running and a ready curl line per endpoint. The
// signed ones carry a fresh Authorization header, valid once, for 5 minutes.
func printKeep(w io.Writer, env *demo.Env) {
	b := env.Config.BaseURL
	c := env.Client
	auth := func() string {
		nonce := make([]byte, 32)
		rand.Read(nonce)
		return "-H " + shellQuote("Authorization: "+ads.SignAuthorization(demo.AdServerSeed, demo.AdServerAddr, nonce, time.Now()))
	}
	fmt.Fprintf(w, "\nEverything keeps running (--keep) until Ctrl-C:\n")
	fmt.Fprintf(w, "  bridge    %s   config %s   logs %s\n", b, env.ConfigPath, env.LogPath)
	fmt.Fprintf(w, "  database  %s\n", env.DatabaseURL())
	for _, d := range env.DSPs {
		fmt.Fprintf(w, "  dsp       %-8s %s\n", d.Profile.Name, d.Server.Endpoint())
	}
	fmt.Fprintf(w, "  rates     %s/api/v1/exchange-rate/{time}/USD\n", env.RateServer.URL())
	fmt.Fprintf(w, "\nTry (the signed calls carry an Authorization header that is valid once, for 5 minutes):\n")
	fmt.Fprintf(w, "  curl -s %s/readyz\n", b)
	fmt.Fprintf(w, "  curl -s %s %s/info.json\n", auth(), b)
	fmt.Fprintf(w, "  curl -s %s %s/inventory\n", auth(), b)
	if crs := c.Creatives(); len(crs) > 0 {
		imp := adserversim.Impression{
			Site:   adserversim.Site{Domain: "news.example.org", Page: "https://news.example.org/articles/42"},
			Device: adserversim.Device{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"},
		}
		body, err := adserversim.BidBody(imp, []adserversim.Slot{{Position: 0, CreativeID: crs[0].ID}})
		if err == nil {
			fmt.Fprintf(w, "  curl -s -X POST %s/bid -H 'Content-Type: application/json' -d %s\n", b, shellQuote(string(body)))
		}
	}
	fmt.Fprintf(w, "  curl -s %s/payment-reports\n", b)
	if reps, err := c.PaymentReports(context.Background()); err == nil {
		for i := len(reps) - 1; i >= 0; i-- {
			if reps[i].Status == "done" && reps[i].Value != nil && *reps[i].Value > 0 {
				if u, err := c.PaymentDetailsURL(reps[i].ID, time.Now(), 5000, 0); err == nil {
					fmt.Fprintf(w, "  curl -s %s %s\n", auth(), shellQuote(u))
				}
				break
			}
		}
	}
	fmt.Fprintf(w, "  bin/bridge payments list --config %s\n", env.ConfigPath)
	fmt.Fprintf(w, "  bin/bridge outbox status --config %s\n", env.ConfigPath)
}

// shellQuote wraps s in single quotes for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
