// Package pglocal starts a throwaway PostgreSQL cluster from the locally
// installed server binaries, for development, the demo and tests.
//
// The cluster lives in a temporary directory (data and unix socket), listens
// on a free loopback port and is removed by Stop. When the current user is
// root, initdb and postgres (which refuse to run as root) are run as the
// "postgres" user, or "nobody" when that user does not exist.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New(`no PostgreSQL server binaries found (looked for initdb and postgres in $PG_BIN, /usr/lib/postgresql/*/bin and $PATH).
To run the bridge you can:
  - install PostgreSQL (Debian/Ubuntu: apt-get install -y postgresql), or
  - point the bridge at an existing database: BRIDGE_DATABASE_URL=postgres://user:pass@host:5432/db, or
  - run everything in containers: docker compose up`)

// errExitedEarly means postgres stopped before accepting logins (for
// example because its port was taken).
var errExitedEarly = errors.New("pglocal: postgres exited during start-up")

// Options tune a throwaway cluster.
type Options struct {
	// Fast turns off fsync and synchronous commit: fine for tests, where a
	// crash of the machine may lose the cluster anyway.
	Fast bool
	// Log receives the server's output; nil discards it.
	Log *os.File
}

// Cluster is a running (or stopped) throwaway PostgreSQL cluster.
type Cluster struct {
	dir    string
	binDir string
	port   int
	opts   Options
	cred   *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start creates a new cluster in a temporary directory and starts it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// As root the server runs as another user, who may not be able to enter
	// $TMPDIR (often under /root); /tmp is open to everyone.
	parent := ""
	if cred != nil {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "bridge-pg-")
	if err != nil {
		return nil, fmt.Errorf("pglocal: temp dir: %w", err)
	}
	c := &Cluster{dir: dir, binDir: binDir, opts: opts, cred: cred}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pglocal: chown %s: %w", dir, err)
		}
	}
	if err := c.initdb(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The free port is released before postgres binds it; if another
	// process takes it in between, postgres exits and we try another one.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		err = c.StartServer(ctx)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errExitedEarly) || attempt == 3 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// FindBinaries returns the directory holding initdb and postgres.
func FindBinaries() (string, error) {
	var candidates []string
	if d := os.Getenv("PG_BIN"); d != "" {
		candidates = append(candidates, d)
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first.
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	candidates = append(candidates, matches...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, d := range candidates {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// credential picks the unprivileged user to run PostgreSQL as when we are root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pglocal: running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) initdb(ctx context.Context) error {
	cmd := c.command(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions")
	if c.opts.Fast {
		cmd.Args = append(cmd.Args, "--no-sync")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pglocal: initdb: %w\n%s", err, out)
	}
	return nil
}

// StartServer starts the server of an existing cluster (after StopServer).
func (c *Cluster) StartServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return nil
	}
	args := []string{
		"-D", c.dataDir(),
		"-p", strconv.Itoa(c.port),
		"-h", "127.0.0.1",
		"-k", c.dir,
		"-c", "max_connections=200",
		"-c", "shared_buffers=64MB",
	}
	if c.opts.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// Not bound to ctx: the server must outlive the start-up context.
	cmd := c.command(context.Background(), "postgres", args...)
	cmd.SysProcAttr.Setpgid = true
	// If our process dies, take the server with it rather than leak it.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if c.opts.Log != nil {
		cmd.Stdout, cmd.Stderr = c.opts.Log, c.opts.Log
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pglocal: start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c.cmd, c.done = cmd, done

	deadline := time.Now().Add(30 * time.Second)
	for {
		// Only a real login proves start-up is over: the port and the socket
		// appear while the server still answers "the database system is
		// starting up".
		if c.acceptsLogins(ctx) {
			return nil
		}
		select {
		case <-done:
			c.cmd = nil
			return fmt.Errorf("%w (port %d)", errExitedEarly, c.port)
		case <-ctx.Done():
			c.stopLocked(syscall.SIGQUIT)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stopLocked(syscall.SIGQUIT)
			return errors.New("pglocal: postgres did not start within 30s")
		}
	}
}

func (c *Cluster) acceptsLogins(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// StopServer stops the server (fast shutdown) but keeps the data directory.
func (c *Cluster) StopServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(syscall.SIGINT)
}

// KillServer stops the server the hard way (immediate shutdown, like a crash).
func (c *Cluster) KillServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(syscall.SIGQUIT)
}

func (c *Cluster) stopLocked(sig syscall.Signal) {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}

// Stop stops the server and removes the cluster's directory.
func (c *Cluster) Stop() {
	c.StopServer()
	os.RemoveAll(c.dir)
}

// Addr is the TCP address the server listens on.
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// URL returns a connection URL for the given database ("postgres" when empty).
func (c *Cluster) URL(database string) string {
	if database == "" {
		database = "postgres"
	}
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", c.Addr(), database)
}

// PID is the postmaster's process id (0 while the server is stopped). Its
// backends and workers are its children.
func (c *Cluster) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Dir is the cluster's temporary directory.
func (c *Cluster) Dir() string { return c.dir }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
