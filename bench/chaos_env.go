package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// canary is a plain listener on loopback addresses the chaos run's outbound
// policy refuses (127.0.0.2, and ::1 where the host has IPv6): the faulty
// DSPs redirect the bridge to it and name it in their bids. It counts every
// connection it accepts; the bridge must never make one.
type canary struct {
	ls   []net.Listener
	urls []string
	hits atomic.Int64
	wg   sync.WaitGroup
}

// canaryAddrs are where the canary listens; the first one is required.
var canaryAddrs = []string{"127.0.0.2:0", "[::1]:0"}

func startCanary() (*canary, error) {
	c := &canary{}
	for i, addr := range canaryAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("bench: canary on %s: %w", addr, err)
			}
			continue // no IPv6 loopback here
		}
		c.ls = append(c.ls, l)
		c.urls = append(c.urls, "http://"+l.Addr().String())
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				c.hits.Add(1)
				conn.Close()
			}
		}()
	}
	return c, nil
}

// url is the i-th DSP's redirect target: the canary's addresses in turn.
func (c *canary) url(i int) string { return c.urls[i%len(c.urls)] }

func (c *canary) close() {
	for _, l := range c.ls {
		l.Close()
	}
	c.wg.Wait()
}

// restartPostgres stops PostgreSQL (a fast shutdown, or with crash an
// immediate one that needs crash recovery), keeps it down for down, starts
// it again on the same data directory and port, and reconnects the bench.
func (e *env) restartPostgres(ctx context.Context, crash bool, down time.Duration) error {
	if crash {
		e.cluster.KillServer()
	} else {
		e.cluster.StopServer()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	if err := e.cluster.StartServer(ctx); err != nil {
		return fmt.Errorf("bench: PostgreSQL did not start again: %w", err)
	}
	e.db.Close(ctx)
	var err error
	if e.db, err = pgx.Connect(ctx, e.cluster.URL("postgres")); err != nil {
		return fmt.Errorf("bench: reconnecting to PostgreSQL: %w", err)
	}
	return nil
}

// killBridge kills the bridge with SIGKILL (no shutdown of any kind), waits
// a second and starts it again with the same config (so the same spool
// directory and database), recording the outage until it is ready.
func (e *env) killBridge(ctx context.Context, o *Options, out *outages, n int) error {
	out.begin(time.Now())
	defer func() { out.end(time.Now()) }()
	old := e.bridge
	if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("bench: kill -9 of the bridge: %w", err)
	}
	<-old.done
	old.log.Close()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	nb, err := startChild("bridge", o.Exe, []string{"serve", "--config", e.configPath}, childEnv(o.Env),
		filepath.Join(e.dir, "bridge-"+strconv.Itoa(n+1)+".log"))
	if err != nil {
		return err
	}
	e.bridge = nb
	if err := nb.waitReady(ctx, e.bridgeURL+"/readyz", 60*time.Second); err != nil {
		return errors.Join(errors.New("bench: the bridge did not come back after kill -9"), err)
	}
	return nil
}
