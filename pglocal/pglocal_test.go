package pglocal

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func query(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 41 + 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStartStopRestartRemove(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := query(t, c.URL("")); n != 42 {
		t.Fatalf("query = %d", n)
	}
	if pid := c.PID(); pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("PID() = %d is not a running process", pid)
	}
	c.StopServer()
	if pid := c.PID(); pid != 0 {
		t.Fatalf("PID() = %d after StopServer, want 0", pid)
	}
	if conn, err := pgx.Connect(ctx, c.URL("")); err == nil {
		conn.Close(ctx)
		t.Fatal("server still answers after StopServer")
	}
	if err := c.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	// Ready means ready: the very first query after StartServer succeeds.
	if n := query(t, c.URL("")); n != 42 {
		t.Fatalf("query after restart = %d", n)
	}
	c.KillServer()
	if err := c.StartServer(ctx); err != nil {
		t.Fatalf("start after a crash: %v", err)
	}
	query(t, c.URL(""))
	dir := c.Dir()
	c.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster dir %s left behind", dir)
	}
}

// A cluster whose port is taken when it restarts reports that postgres
// exited, rather than hanging; a new cluster moves to another port.
func TestTakenPort(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx, Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.StopServer()
	l, err := net.Listen("tcp", c.Addr())
	if err != nil {
		t.Skipf("could not take the port: %v", err)
	}
	defer l.Close()
	if err := c.StartServer(ctx); !errors.Is(err, errExitedEarly) {
		t.Fatalf("StartServer on a taken port = %v, want errExitedEarly", err)
	}
}
