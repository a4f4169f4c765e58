package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file reads CPU time and memory of processes from /proc: the bridge,
// the floor proxy and PostgreSQL run as their own processes, so their cost
// is measured from outside, the same way for each of them.

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ).
var clockTick = func() time.Duration {
	const atClkTck = 17
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for i := 0; i+16 <= len(auxv); i += 16 {
			if binary.NativeEndian.Uint64(auxv[i:]) == atClkTck {
				if hz := binary.NativeEndian.Uint64(auxv[i+8:]); hz > 0 {
					return time.Second / time.Duration(hz)
				}
			}
		}
	}
	return 10 * time.Millisecond // USER_HZ is 100 on every Linux we run on
}()

// procStat is the part of /proc/PID/stat the bench uses.
type procStat struct {
	ppid        int
	user, sys   time.Duration // this process, all its threads
	cuser, csys time.Duration // its children that exited and were waited for
	rssPages    int64
}

// parseStat parses the text of /proc/PID/stat. The command name (field 2)
// is in parentheses and may hold spaces or parentheses itself, so fields are
// counted from the last ')'.
func parseStat(text []byte) (procStat, error) {
	i := bytes.LastIndexByte(text, ')')
	if i < 0 {
		return procStat{}, errors.New("no command name")
	}
	f := strings.Fields(string(text[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("%d fields", len(f)+2)
	}
	num := func(field int) (uint64, error) { return strconv.ParseUint(f[field-3], 10, 64) }
	var v [6]uint64
	for k, field := range []int{4, 14, 15, 16, 17, 24} {
		n, err := num(field)
		if err != nil {
			return procStat{}, fmt.Errorf("field %d: %w", field, err)
		}
		v[k] = n
	}
	t := func(n uint64) time.Duration { return time.Duration(n) * clockTick }
	return procStat{ppid: int(v[0]), user: t(v[1]), sys: t(v[2]), cuser: t(v[3]), csys: t(v[4]),
		rssPages: int64(v[5])}, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// ProcessCPU is the user+system CPU time a process has used so far.
func ProcessCPU(pid int) (time.Duration, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.user + st.sys, nil
}

// TreeCPU is the CPU time of root and its direct children (PostgreSQL's
// postmaster and its backends and workers), including children that have
// exited since (the kernel adds them to the parent's cutime/cstime when
// the parent waits for them), so that a difference of two readings is the
// work done in between however many backends came and went. Processes in
// exclude (the bench's own connection) are left out.
func TreeCPU(root int, exclude ...int) (time.Duration, error) {
	st, err := readStat(root)
	if err != nil {
		return 0, err
	}
	total := st.user + st.sys + st.cuser + st.csys
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root || slices.Contains(exclude, pid) {
			continue
		}
		c, err := readStat(pid)
		if err != nil || c.ppid != root {
			continue // gone meanwhile, or not ours
		}
		total += c.user + c.sys + c.cuser + c.csys
	}
	return total, nil
}

// RSS is the resident memory of a process in bytes.
func RSS(pid int) (int64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.rssPages * int64(os.Getpagesize()), nil
}

// SelfCPU is the CPU time of this process (the load generator and the
// simulated DSPs), at microsecond resolution.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parseSteal returns the steal time of the machine's "cpu" line of
// /proc/stat (field 8, all CPUs together): time the hypervisor kept a
// runnable virtual CPU off the real ones. Steal is how a throttled virtual
// machine shows up, and it stretches the tails of every system measured.
func parseSteal(text []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(text, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("no cpu line with a steal field")
	}
	n, err := strconv.ParseUint(f[8], 10, 63)
	if err != nil {
		return 0, fmt.Errorf("steal: %w", err)
	}
	return time.Duration(n) * clockTick, nil
}

// HostSteal is the machine's steal time so far (0 where /proc/stat has no
// steal field: not a virtual machine, or an old kernel).
func HostSteal() time.Duration {
	text, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	d, _ := parseSteal(text)
	return d
}
