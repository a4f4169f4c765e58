package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/dspsim"
)

func init() {
	register("dsp simulate", "run a simulated OpenRTB DSP (for the demo and tests)", dspSimulateCmd)
}

func dspSimulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridge dsp simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9001", "`address` to listen on")
	public := fs.String("public-url", "", "base `URL` of the nurl/burl in bids (default http://LISTEN)")
	billing := fs.String("billing-url", "", "base `URL` of the burl only, if the bridge reaches the DSP at another address than browsers (default --public-url)")
	price := fs.String("price", "1.00", "bid CPM, a decimal in --currency")
	currency := fs.String("currency", "USD", "currency of bids")
	latency := fs.Duration("latency", 0, "delay before every answer")
	modeNames := make([]string, len(dspsim.Modes))
	for i, m := range dspsim.Modes {
		modeNames[i] = string(m)
	}
	mode := fs.String("mode", "bid", "answer mode: "+strings.Join(modeNames, ", "))
	failEvery := fs.Int("fail-every", 0, "answer 500 to every Nth request (0: never)")
	failFraction := fs.Float64("fail-fraction", 0, "answer 500 to this share of requests")
	seed := fs.Int64("seed", 1, "random seed for --fail-fraction")
	noBURL := fs.Bool("no-burl", false, "leave burl out of bids")
	noNURL := fs.Bool("no-nurl", false, "leave nurl out of bids")
	creative := fs.String("creative", "nurl", "where bids carry the creative: nurl (the nurl answers it), image (image markup in adm), vast (VAST in adm)")
	vastWrapper := fs.Bool("vast-wrapper", false, "with --creative vast, send a VAST wrapper of the inline document")
	videoFile := fs.String("video-file", "", "`file` served as the VAST media file (default: an mp4 header that does not play)")
	videoMime := fs.String("video-mime", "video/mp4", "type of --video-file: video/mp4 or video/webm")
	imageSize := fs.String("image-size", "", "with --creative image, serve an image of this `WxH` instead of the slot's (a wrong-size creative)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("dsp simulate: unexpected argument %q", fs.Arg(0))}
	}
	m, err := dspsim.ParseMode(*mode)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if _, err := config.ParseDecimal(*price, 9); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--price: %v", err)}
	}
	kind, err := dspsim.ParseCreativeKind(*creative)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--creative: %v", err)}
	}
	if *imageSize != "" {
		if _, _, ok := config.ParseSize(*imageSize); !ok {
			return &exitError{code: 2, err: fmt.Errorf("--image-size: %q is not WxH", *imageSize)}
		}
	}
	if *videoMime != "video/mp4" && *videoMime != "video/webm" {
		return &exitError{code: 2, err: fmt.Errorf("--video-mime: %q is not video/mp4 or video/webm", *videoMime)}
	}
	var video []byte
	if *videoFile != "" {
		if video, err = os.ReadFile(*videoFile); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--video-file: %v", err)}
		}
	}
	pub := *public
	if pub == "" {
		pub = "http://" + *listen
	}
	s, err := dspsim.Start(dspsim.Options{
		Listen: *listen, PublicURL: pub, BillingURL: *billing, Price: *price, Currency: strings.ToUpper(*currency), Latency: *latency,
		Mode: m, FailEvery: *failEvery, FailFraction: *failFraction, Seed: *seed, NoBURL: *noBURL, NoNURL: *noNURL,
		Creative: kind, VASTWrapper: *vastWrapper, VideoBytes: video, VideoMime: *videoMime, ImageSize: *imageSize,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "simulated DSP listening on %s (endpoint %s/openrtb2/auction, mode %s, creative %s, price %s %s)\n",
		*listen, pub, m, kind, *price, strings.ToUpper(*currency))
	<-ctx.Done()
	fmt.Fprintf(stderr, "simulated DSP stopping after %d bid requests, %d wins, %d bills\n", s.RequestCount(), len(s.Wins()), len(s.Bills()))
	return nil
}
