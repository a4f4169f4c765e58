package bench

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (post gres: a) b) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 130 7 3 20 0 1 0 100 200000000 2048 18446744073709551615"
	st, err := parseStat([]byte(line + " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 17 || st.user != 250*clockTick || st.sys != 130*clockTick || st.cuser != 7*clockTick || st.csys != 3*clockTick || st.rssPages != 2048 {
		t.Fatalf("%+v", st)
	}
	if _, err := parseStat([]byte("12 (x) S 1 2")); err == nil {
		t.Fatal("a short line was accepted")
	}
}

func TestParseSteal(t *testing.T) {
	for _, tc := range []struct {
		text string
		want time.Duration
		ok   bool
	}{
		{"cpu  1412084 1836 484522 6385210 35300 0 80424 20887 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n", 20887 * clockTick, true},
		{"cpu  1 2 3 4 5 6 7 0\n", 0, true},
		{"cpu  1 2 3 4 5 6 7\n", 0, false},        // a kernel without the steal field
		{"cpu0 1 2 3 4 5 6 7 99 0 0\n", 0, false}, // not the all-CPUs line
		{"cpu  1 2 3 4 5 6 7 -1 0 0\n", 0, false},
		{"", 0, false},
	} {
		got, err := parseSteal([]byte(tc.text))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSteal(%q) = %s, %v; want %s, ok %v", tc.text, got, err, tc.want, tc.ok)
		}
	}
}

// TreeCPU counts a child that ran and exited: its time moves into the
// parent's cutime/cstime.
func TestTreeCPUCountsExitedChildren(t *testing.T) {
	before, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc rounds each figure down to whole ticks.
	if got := after - before; got+2*clockTick < child || got <= 0 {
		t.Fatalf("TreeCPU grew by %s; the child alone used %s", got, child)
	}
	if rss, err := RSS(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("RSS = %d, %v", rss, err)
	}
}
