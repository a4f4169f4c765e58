package browser

import (
	"net"
	"net/http"
	"sync"
)

// guard is the proxy Chromium is told to use for everything but loopback. It
// refuses every request and records it, so nothing a page asks for can leave
// the machine, and a test can see what tried (Browser.Refused). Chromium
// bypasses a proxy only for the hosts in --proxy-bypass-list, which we set to
// loopback alone; with --host-resolver-rules it also never resolves a name
// itself, so a name cannot reach a DNS server either.
type guard struct {
	srv *http.Server
	ln  net.Listener

	mu      sync.Mutex
	refused []string
}

func startGuard() (*guard, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &guard{ln: ln}
	g.srv = &http.Server{Handler: g}
	go g.srv.Serve(ln)
	return g, nil
}

// ServeHTTP refuses: a plain proxied request has an absolute URL, an https
// one arrives as CONNECT host:port.
func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	if r.Method != http.MethodConnect && r.URL.IsAbs() {
		target = r.URL.String()
	}
	g.mu.Lock()
	g.refused = append(g.refused, r.Method+" "+target)
	g.mu.Unlock()
	http.Error(w, "dsp-bridge browser tests: only loopback is reachable", http.StatusForbidden)
}

func (g *guard) addr() string { return g.ln.Addr().String() }

func (g *guard) list() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refused...)
}

func (g *guard) close() { g.srv.Close() }
