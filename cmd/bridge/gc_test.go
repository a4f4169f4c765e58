package main

import (
	"runtime/debug"
	"testing"
)

func TestApplyGOGCUnlessTheEnvironmentTunesTheGC(t *testing.T) {
	was := debug.SetGCPercent(100)
	defer debug.SetGCPercent(was)
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	if !applyGOGC(400, lookup) {
		t.Fatal("runtime.gogc not applied without GOGC or GOMEMLIMIT")
	}
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("GC percent %d after applyGOGC(400), want 400", got)
	}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		env = map[string]string{k: "off"}
		debug.SetGCPercent(100)
		if applyGOGC(400, lookup) {
			t.Errorf("runtime.gogc applied although %s is set", k)
		}
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("with %s set the GC percent became %d, want it left at 100", k, got)
		}
	}
}
