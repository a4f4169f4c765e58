package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// testMaxBody bounds the answers of the tests' endpoints, framing included.
const testMaxBody = 2 << 20

// newEndpoint is NewEndpoint with a dial timeout of a second.
func newEndpoint(endpoint string, maxConns int, headers []string) *Endpoint {
	return NewEndpoint(endpoint, maxConns, time.Second, testMaxBody, headers)
}

// postAll posts body n times and reads every answer to its end.
func postAll(t *testing.T, c *Endpoint, n int, body string) []string {
	t.Helper()
	var got []string
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, done, err := c.Post(ctx, []byte(body))
		if err != nil {
			cancel()
			t.Fatalf("call %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		done()
		cancel()
		if err != nil {
			t.Fatalf("call %d: read: %v", i, err)
		}
		got = append(got, resp.Status+" "+string(b))
	}
	return got
}

func TestEndpointSendsTheRequestAndKeepsTheConnection(t *testing.T) {
	var seen atomic.Value
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.Store(r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Content-Type") + " " +
			r.Header.Get("X-Openrtb-Version") + " " + r.Header.Get("X-Api-Key") + " " + r.Host + " " +
			strings.Join(r.Header.Values("User-Agent"), ",") + " " + string(b))
		switch string(b) {
		case "nobid":
			w.WriteHeader(http.StatusNoContent)
		case "chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush() // no Content-Length: a chunked answer
			w.Write([]byte("part two"))
		default:
			w.Write([]byte("ok"))
		}
	})
	c := newEndpoint(srv.URL+"/bid?x=1", 4, []string{"Content-Type", "application/json", "X-Openrtb-Version", "2.6", "X-Api-Key", "k", "User-Agent", "ua/1"})
	if c == nil {
		t.Fatal("no client for an http endpoint")
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, body := range []string{"hello", "nobid", "chunked", "hello"} {
		got := postAll(t, c, 3, body)
		want := map[string]string{"hello": "200 OK ok", "nobid": "204 No Content ", "chunked": "200 OK part one, part two"}[body]
		for _, g := range got {
			if g != want {
				t.Errorf("answer to %q: %q, want %q", body, g, want)
			}
		}
		if s := seen.Load().(string); s != "POST /bid?x=1 application/json 2.6 k "+host+" ua/1 "+body {
			t.Errorf("server saw %q", s)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 12 sequential calls, want 1 (kept alive through 200, 204 and chunked answers)", n)
	}
}

func TestEndpointClosesWhenTheDSPAsksOrTheBodyIsLeft(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte(strings.Repeat("x", 10000)))
	})
	c := newEndpoint(srv.URL+"/?close=1", 4, nil)
	postAll(t, c, 3, "a")
	if n := conns.Load(); n != 3 {
		t.Errorf("Connection: close: %d connections for 3 calls, want 3", n)
	}
	c = newEndpoint(srv.URL+"/", 4, nil)
	for i := 0; i < 3; i++ {
		resp, done, err := c.Post(context.Background(), []byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Read(make([]byte, 10)) // most of the body left unread
		done()
	}
	if n := conns.Load(); n != 6 {
		t.Errorf("unread bodies: %d connections in all, want 6 (none reused)", n)
	}
}

// TestEndpointRetriesAConnectionTheDSPClosed: a server that closes every
// connection after one answer, without saying so, costs no failed call.
func TestEndpointRetriesAConnectionTheDSPClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	c := newEndpoint("http://"+ln.Addr().String()+"/", 4, nil)
	for _, g := range postAll(t, c, 5, "a") {
		if g != "200 OK ok" {
			t.Errorf("answer %q", g)
		}
	}
	if n := accepted.Load(); n < 5 {
		t.Errorf("%d connections for 5 calls to a server closing each, want 5 or more", n)
	}
}

func TestEndpointIsCutOffByItsContext(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})
	defer close(release)
	c := newEndpoint(srv.URL, 4, nil)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	if _, _, err := c.Post(ctx, []byte("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want context.Canceled", err)
	}

	errCause := errors.New("the caller's timeout")
	ctx, cancel = context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errCause)
	defer cancel()
	_, _, err := c.Post(ctx, []byte("a"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	// The caller classifies the failure by its context (auction's
	// interrupted): it must have ended by the time the error is returned.
	if ctx.Err() == nil || context.Cause(ctx) != errCause {
		t.Errorf("context not ended (%v, cause %v) when the call returned", ctx.Err(), context.Cause(ctx))
	}
	if len(c.pool.idle) != 0 {
		t.Errorf("%d interrupted connections kept for reuse", len(c.pool.idle))
	}
}

func TestEndpointRefusesHugeHeaders(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 40; i++ {
			w.Header().Add("X-Filler", strings.Repeat("y", 4000))
		}
		w.Write([]byte("ok"))
	})
	c := newEndpoint(srv.URL, 4, nil)
	_, _, err := c.Post(context.Background(), []byte("a"))
	if err == nil || !strings.Contains(err.Error(), "headers larger than") {
		t.Errorf("160 kB of headers: %v, want refused", err)
	}
}

func TestNewEndpointOnlyForPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		headers  []string
		want     bool
	}{
		{"http://127.0.0.1:9/bid", nil, true},
		{"http://dsp.example/bid", nil, true},
		{"https://dsp.example/bid", nil, false},
		{"http://user:pw@dsp.example/", nil, false},
		{"http://dsp.example/", []string{"X-A", "a\r\nX-B: b"}, false},
	} {
		if got := newEndpoint(tc.endpoint, 1, tc.headers) != nil; got != tc.want {
			t.Errorf("%s %q: client %v, want %v", tc.endpoint, tc.headers, got, tc.want)
		}
	}
	if c := newEndpoint("http://dsp.example/bid", 1, nil); c.pool.addr != "dsp.example:80" {
		t.Errorf("addr %q, want dsp.example:80", c.pool.addr)
	}
}

func TestEndpointClosesConnectionsLeftIdle(t *testing.T) {
	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	c := newEndpoint(srv.URL, 4, nil)
	c.pool.idleFor = 20 * time.Millisecond
	postAll(t, c, 1, "a")
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("an idle connection was still open 10 s after its idle timeout of 20 ms")
	}
	if got := postAll(t, c, 1, "a"); got[0] != "200 OK ok" { // the expired connection is skipped
		t.Errorf("after the idle timeout: %q", got[0])
	}
}

// FuzzAnswer: whatever bytes a DSP answers with, the client neither
// panics nor reads past its bounds, and it keeps a connection for the next
// call only after an answer it read to the end, with no close asked.
func FuzzAnswer(f *testing.F) {
	for _, a := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.0 200 OK\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}",
		"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1/\r\nContent-Length: 0\r\n\r\n",
		"garbage",
		"",
	} {
		f.Add([]byte(a))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		cli, srv := net.Pipe()
		go func() {
			defer srv.Close()
			req, err := http.ReadRequest(bufio.NewReader(srv))
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			srv.Write(answer)
		}()
		c := NewPool("dsp.test:80", Options{MaxBodyBytes: testMaxBody})
		defer c.CloseIdle() // stops a kept connection's idle timer
		pc := newConn(cli)
		defer pc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, stop, err := c.roundTrip(ctx, pc, []byte("POST /bid HTTP/1.1\r\nHost: dsp.test\r\nContent-Length: 10\r\n\r\n{\"id\":\"1\"}"))
		if err != nil {
			return
		}
		done := c.releaser(pc, resp, stop)
		_, readErr := io.Copy(io.Discard, resp.Body)
		ended := resp.Body.(*eofBody).ended
		done()
		if pc.limit.read > DefaultMaxHeaderBytes+readBuffer+testMaxBody {
			t.Fatalf("read %d bytes, over the bound", pc.limit.read)
		}
		if len(c.idle) == 1 && (!ended || resp.Close) {
			t.Fatalf("kept a connection after an answer not read to its end (ended %v, close %v, read error %v)", ended, resp.Close, readErr)
		}
	})
}
