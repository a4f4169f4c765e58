package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client talks to chromedriver only (on loopback); no timeout of its own,
// every call carries a context.
var client = &http.Client{Transport: &http.Transport{Proxy: nil}}

// do sends one WebDriver command and decodes the answer's "value" into out.
func (b *Browser) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("webdriver %s %s: %w", method, path, err)
	}
	var answer struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return fmt.Errorf("webdriver %s %s: HTTP %d, not JSON: %.200q", method, path, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		json.Unmarshal(answer.Value, &e)
		return &Error{Status: resp.StatusCode, Code: e.Error, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Value, out); err != nil {
		return fmt.Errorf("webdriver %s %s: decode %.200s: %w", method, path, answer.Value, err)
	}
	return nil
}

func (b *Browser) sessionPath(p string) string { return "/session/" + b.session + p }

// Navigate loads url in the window and waits until it has loaded.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	return b.do(ctx, "POST", b.sessionPath("/url"), map[string]string{"url": url}, nil)
}

// URL is the window's current URL.
func (b *Browser) URL(ctx context.Context) (string, error) {
	var u string
	err := b.do(ctx, "GET", b.sessionPath("/url"), nil, &u)
	return u, err
}

// Execute runs script as the body of a function in the page, with args as
// its arguments, and decodes what it returns into out (nil: ignore it).
func (b *Browser) Execute(ctx context.Context, out any, script string, args ...any) error {
	return b.execute(ctx, "/execute/sync", out, script, args)
}

// ExecuteAsync runs script like Execute, with one more argument: the
// callback the script calls with its result. It waits for that call, up to
// the context's deadline (or Options.ScriptTimeout).
func (b *Browser) ExecuteAsync(ctx context.Context, out any, script string, args ...any) error {
	return b.execute(ctx, "/execute/async", out, script, args)
}

func (b *Browser) execute(ctx context.Context, endpoint string, out any, script string, args []any) error {
	if args == nil {
		args = []any{} // WebDriver requires an array
	}
	// chromedriver runs a session's commands one at a time: a script still
	// running after the caller gave up would block the next command, so the
	// browser's own timeout follows the caller's deadline.
	timeout := b.opts.ScriptTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	if err := b.do(ctx, "POST", b.sessionPath("/timeouts"),
		map[string]int64{"script": timeout.Milliseconds()}, nil); err != nil {
		return err
	}
	return b.do(ctx, "POST", b.sessionPath(endpoint), map[string]any{"script": script, "args": args}, out)
}

// Screenshot is a PNG of the window.
func (b *Browser) Screenshot(ctx context.Context) ([]byte, error) {
	var s string
	if err := b.do(ctx, "GET", b.sessionPath("/screenshot"), nil, &s); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

// LogEntry is one line of the browser's console log (including the network
// errors Chromium reports there, such as a request blocked by CORS).
type LogEntry struct {
	Level     string `json:"level"`
	Message   string `json:"message"`
	Source    string `json:"source"`
	Timestamp int64  `json:"timestamp"`
}

// Logs returns the console log lines since the last call (chromedriver's
// log endpoint; it empties the buffer).
func (b *Browser) Logs(ctx context.Context) ([]LogEntry, error) {
	var entries []LogEntry
	err := b.do(ctx, "POST", b.sessionPath("/se/log"), map[string]string{"type": "browser"}, &entries)
	return entries, err
}
