package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process the bench starts from its own binary (the bridge, the
// floor proxy) and measures from outside.
type child struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error // set when done is closed
}

// childEnv is this process's environment without any BRIDGE_* variable
// (they would override the generated configuration, say BRIDGE_DATABASE_URL)
// plus extra, the ones a run sets on purpose (Options.Env).
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BRIDGE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startChild runs exe with args, its output going to logPath.
func startChild(name, exe string, args, env []string, logPath string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = env
	// Its own process group, so that a Ctrl-C reaches only the bench, which
	// then stops its children in order (the bridge before PostgreSQL); and
	// if the bench dies, the child is told to stop too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (c *child) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM (a clean shutdown), waits up to grace, then kills it.
func (c *child) stop(grace time.Duration) error {
	defer c.log.Close()
	if done, err := c.exited(); done {
		return fmt.Errorf("%s had already exited: %v", c.name, err)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s after SIGTERM and was killed", c.name, grace)
	}
}

// waitReady polls url until it answers 200, the child exits or limit passes.
func (c *child) waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if done, err := c.exited(); done {
			return fmt.Errorf("bench: %s exited during start-up (%v); see %s", c.name, err, c.log.Name())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s not ready at %s within %s; see %s", c.name, url, limit, c.log.Name())
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), errors.New("bench: interrupted while "+c.name+" started"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
