package browser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure Start. The zero value is what tests want.
type Options struct {
	// Paths of the binaries (default: Find).
	Paths Paths
	// ScriptTimeout bounds one script when the context has no deadline
	// (default 2 minutes). It guards against a hung page, it is not a speed
	// goal.
	ScriptTimeout time.Duration
	// Width and Height of the window (default 1024x768).
	Width, Height int
	// Args are extra Chromium flags, after the ones Start always sets.
	Args []string
	// StrictTLS makes certificate errors fail as in a real browser. By
	// default the browser accepts any certificate (WebDriver's
	// acceptInsecureCerts), so a test can serve an https serve_url from
	// httptest.NewTLSServer; only loopback is reachable anyway.
	StrictTLS bool
}

// Browser is one chromedriver process with one Chromium session.
type Browser struct {
	opts    Options
	dir     string // holds the profile and chromedriver.log; removed by Close
	cmd     *exec.Cmd
	exited  chan struct{}
	base    string // http://127.0.0.1:port of chromedriver
	session string // WebDriver session id
	guard   *guard

	pageOnce sync.Once
	page     *pageServer
	pageErr  error

	closeOnce sync.Once
}

// chromiumArgs are the flags every session gets. The first group is what
// this machine needs (as root, headless, and without background requests,
// which a closed network refuses); the second keeps every request on
// loopback.
func chromiumArgs(profile, guardAddr string, width, height int) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile,
		fmt.Sprintf("--window-size=%d,%d", width, height),
		"--no-default-browser-check", "--disable-default-apps", "--disable-extensions",
		"--disable-domain-reliability", "--disable-client-side-phishing-detection",
		"--mute-audio",
		// Background requests the flags above leave (seen refused by the
		// guard): network time, search engine preconnects, and so on.
		"--disable-features=NetworkTimeServiceQuerying,PreconnectToSearch,OptimizationHints,Translate," +
			"MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
		"--disable-component-extensions-with-background-pages", "--metrics-recording-only",
		"--disable-breakpad", "--disable-search-engine-choice-screen", "--disable-field-trial-config",

		// Everything goes to the refusing guard proxy except loopback:
		// "<-loopback>" drops Chromium's implicit bypass list (which also
		// holds link-local addresses), then loopback is added back.
		"--proxy-server=http://" + guardAddr,
		"--proxy-bypass-list=<-loopback>;127.0.0.1/8;[::1];localhost",
		// No name is resolved by Chromium itself (not even to ask DNS).
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
		// WebRTC would send UDP around the proxy.
		"--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
		"--webrtc-ip-handling-policy=disable_non_proxied_udp",
	}
}

var portLine = regexp.MustCompile(`started successfully on port (\d+)`)

// Start starts chromedriver on a free loopback port and opens a Chromium
// session with a new empty profile. Close stops both.
func Start(ctx context.Context, opts Options) (*Browser, error) {
	if opts.Paths == (Paths{}) {
		p, err := Find()
		if err != nil {
			return nil, err
		}
		opts.Paths = p
	}
	if opts.ScriptTimeout <= 0 {
		opts.ScriptTimeout = 2 * time.Minute
	}
	if opts.Width <= 0 || opts.Height <= 0 {
		opts.Width, opts.Height = 1024, 768
	}
	dir, err := os.MkdirTemp("", "dsp-bridge-browser-")
	if err != nil {
		return nil, err
	}
	b := &Browser{opts: opts, dir: dir, exited: make(chan struct{})}
	if err := b.start(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Browser) start(ctx context.Context) error {
	var err error
	if b.guard, err = startGuard(); err != nil {
		return fmt.Errorf("browser: guard proxy: %w", err)
	}
	profile := filepath.Join(b.dir, "profile")
	if err := os.Mkdir(profile, 0o700); err != nil {
		return err
	}
	// --port=0: chromedriver picks a free port and prints it, so there is no
	// race between choosing a port and binding it. It listens on loopback
	// only and accepts local connections only (its default).
	b.cmd = exec.Command(b.opts.Paths.Chromedriver, "--port=0",
		"--log-path="+filepath.Join(b.dir, "chromedriver.log"))
	// Its own process group, so Close can stop Chromium's processes too
	// (they are chromedriver's children); killed if the test binary dies.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("browser: start chromedriver: %w", err)
	}
	go func() { b.cmd.Wait(); close(b.exited) }()

	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := portLine.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout) // keep the pipe drained
	}()
	select {
	case p := <-port:
		b.base = "http://127.0.0.1:" + p
	case <-b.exited:
		return fmt.Errorf("browser: chromedriver exited at start: %s", b.logTail())
	case <-ctx.Done():
		return fmt.Errorf("browser: chromedriver did not start: %w", ctx.Err())
	}

	caps := map[string]any{
		"capabilities": map[string]any{"alwaysMatch": map[string]any{
			"browserName":         "chrome",
			"pageLoadStrategy":    "normal",
			"acceptInsecureCerts": !b.opts.StrictTLS,
			"timeouts":            map[string]any{"script": b.opts.ScriptTimeout.Milliseconds()},
			"goog:chromeOptions": map[string]any{
				"binary": b.opts.Paths.Chromium,
				"args": append(chromiumArgs(profile, b.guard.addr(), b.opts.Width, b.opts.Height),
					b.opts.Args...),
				// What Debian's initial preferences would set, which a
				// profile started with --no-first-run does not get: no
				// predictive preconnects, no sign-in (account lookups).
				"prefs": map[string]any{
					"net.network_prediction_options": 2,
					"signin.allowed":                 false,
					"search.suggest_enabled":         false,
				},
			},
			"goog:loggingPrefs": map[string]any{"browser": "ALL"},
		}},
	}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.do(ctx, "POST", "/session", caps, &created); err != nil {
		return fmt.Errorf("browser: new session: %w; chromedriver log: %s", err, b.logTail())
	}
	b.session = created.SessionID
	return nil
}

// logTail is the end of chromedriver's log, for error messages.
func (b *Browser) logTail() string {
	data, err := os.ReadFile(filepath.Join(b.dir, "chromedriver.log"))
	if err != nil {
		return "(no log)"
	}
	const max = 2000
	s := strings.TrimSpace(string(data))
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}

// Refused lists the requests the browser tried to send beyond loopback (all
// refused), as "METHOD target".
func (b *Browser) Refused() []string { return b.guard.list() }

// Close ends the session, stops chromedriver and the Chromium processes it
// started (and only those), and removes the profile. Safe to call twice.
func (b *Browser) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.page != nil {
			b.page.close()
		}
		if b.session != "" {
			// Lets chromedriver quit Chromium the clean way first.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err = b.do(ctx, "DELETE", "/session/"+b.session, nil, nil)
			cancel()
		}
		if b.cmd != nil && b.cmd.Process != nil {
			// Setpgid made the group id chromedriver's pid; Chromium's
			// processes are in it too, also those reparented away from
			// chromedriver.
			pgid := b.cmd.Process.Pid
			syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-b.exited:
			case <-time.After(5 * time.Second):
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-b.exited
			}
			for i := 0; liveInGroup(pgid) > 0; i++ {
				if i == 100 {
					syscall.Kill(-pgid, syscall.SIGKILL)
				}
				if i == 200 {
					if err == nil {
						err = fmt.Errorf("browser: processes of group %d still running", pgid)
					}
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if b.guard != nil {
			b.guard.close()
		}
		if rmErr := os.RemoveAll(b.dir); rmErr != nil && err == nil {
			err = rmErr
		}
	})
	return err
}

// liveInGroup counts the processes of process group pgid that are still
// running. Zombies do not count: orphans are reaped by init, which on some
// machines takes a second or two, but they have ended.
func liveInGroup(pgid int) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	n := 0
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			n++
		}
	}
	return n
}

// Error is an error answer from chromedriver (a W3C WebDriver error).
type Error struct {
	Status  int    // HTTP status
	Code    string // WebDriver error code, such as "script timeout"
	Message string
}

func (e *Error) Error() string {
	return "webdriver: " + e.Code + ": " + e.Message + " (HTTP " + strconv.Itoa(e.Status) + ")"
}

// IsCode reports whether err is a WebDriver error with that code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
