package main

import (
	"os"
	"runtime/debug"
)

// applyGOGC sets the garbage collector's target to runtime.gogc unless the
// environment already tunes the collector (GOGC or GOMEMLIMIT): an operator's
// explicit runtime setting wins over the configuration's default. It reports
// whether it set the target.
func applyGOGC(percent int, lookupEnv func(string) (string, bool)) bool {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, ok := lookupEnv(v); ok {
			return false
		}
	}
	debug.SetGCPercent(percent)
	return true
}

// lookupEnv is os.LookupEnv (tests pass their own).
var lookupEnv = os.LookupEnv
