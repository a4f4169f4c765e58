package config

import (
	"strings"
	"testing"
)

// TestWinWritersBoundedByTheirConnections checks the win writers against
// the connections that store wins, and the commit delay's range.
func TestWinWritersBoundedByTheirConnections(t *testing.T) {
	cases := []struct {
		name, db string
		problem  string // "" means valid
	}{
		{"one writer", "win_writers: 1", ""},
		{"as many as win_conns", "win_conns: 4\n  win_writers: 4", ""},
		{"no writer", "win_writers: 0", "database.win_writers: 0 must be from 1 to the connections that store wins (4)"},
		{"more than win_conns", "win_conns: 3\n  win_writers: 4", "database.win_writers: 4 must be from 1 to the connections that store wins (3)"},
		{"shared pool: up to max_conns", "max_conns: 6\n  win_conns: 0\n  win_writers: 6", ""},
		{"shared pool: more than max_conns", "max_conns: 6\n  win_conns: 0\n  win_writers: 7", "database.win_writers: 7 must be from 1 to the connections that store wins (6)"},
		{"no commit delay", "win_commit_delay: 0s", ""},
		{"the longest commit delay", "win_commit_delay: 10ms", ""},
		{"a commit delay too long", "win_commit_delay: 11ms", "database.win_commit_delay: 11ms is outside 0..10ms"},
		{"a negative commit delay", "win_commit_delay: -1ms", "database.win_commit_delay: -1ms is outside 0..10ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _, err := Load(writeFile(t, minimal+"database:\n  "+c.db+"\n"))
			if c.problem == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Database.WinWriters < 1 {
					t.Errorf("win_writers = %d", cfg.Database.WinWriters)
				}
				return
			}
			problems, ok := AsProblems(err)
			if !ok {
				t.Fatalf("err = %v, want *Problems with %q", err, c.problem)
			}
			if joined := strings.Join(problems, "\n"); !strings.Contains(joined, c.problem) {
				t.Errorf("problems lack %q:\n%s", c.problem, joined)
			}
		})
	}
}
