package service

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/adshares/dsp-bridge/config"
)

// liveKeys are the settings a reload applies; every other change is logged
// as needing a restart. money.rates is live because only DSP clients use it.
var liveKeys = []string{"dsps", "auction.tmax", "auction.bidfloor", "auction.breaker.", "money.rates",
	"auction.imp_exp", "supply_chain.", "privacy.", "blocking.", "traffic."}

// Reload re-reads the config file at path (and the environment), validates
// it and, if it is sound, swaps in the DSP list, DSP timeouts, breaker
// settings, auction.tmax and auction.bidfloor, and gives notice delivery
// the DSPs' allow_networks. On any problem it keeps the
// running configuration, logs every problem and returns them. Settings
// that cannot change live (listen, database, ...) are logged as needing a
// restart and otherwise ignored.
func (s *Service) Reload(path string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	err := s.reload(path)
	s.Metrics.ObserveReload(err)
	return err
}

func (s *Service) reload(path string) error {
	s.Log.Info("config reload requested", "path", path)
	cfg, warnings, err := config.Load(path)
	for _, w := range warnings {
		s.Log.Warn("config reload: warning", "warning", w)
	}
	if err == nil && cfg.Auction.TMax >= s.Config.Server.WriteTimeout {
		err = &config.Problems{List: []string{fmt.Sprintf(
			"auction.tmax: %s must be shorter than the running server.write_timeout (%s; changing that needs a restart)",
			cfg.Auction.TMax, s.Config.Server.WriteTimeout)}}
	}
	if err != nil {
		problems, ok := config.AsProblems(err)
		if !ok {
			problems = []string{err.Error()}
		}
		for _, p := range problems {
			s.Log.Error("config reload rejected; keeping the running configuration", "problem", p)
		}
		return err
	}
	if keys := restartKeys(s.Config, cfg); len(keys) > 0 {
		s.Log.Warn("config reload: these settings changed but need a restart; still running with the old values",
			"keys", keys)
	}
	sum, err := s.demand.Auction.Reload(cfg)
	if err != nil {
		s.Log.Error("config reload rejected; keeping the running configuration", "problem", err.Error())
		return err
	}
	// Validation has checked every allow_networks entry, so this cannot
	// fail on a config that got here.
	if err := s.notices.SetDSPs(cfg.DSPs); err != nil {
		s.Log.Error("config reload: notice delivery keeps the old allow_networks", "problem", err.Error())
		return err
	}
	names := dspNames(cfg)
	s.Metrics.SetDSPs(names)
	s.Metrics.SetTMax(sum.TMax)
	s.Log.Info("config reloaded", "dsps", names, "added", sum.Added, "changed", sum.Changed, "removed", sum.Removed,
		"kept", sum.Kept, "tmax", sum.TMax.String())
	return nil
}

// restartKeys lists the keys whose value differs between the running and
// the new config but that a reload does not apply.
func restartKeys(old, cur *config.Config) []string {
	var keys []string
	for _, key := range config.ChangedKeys(old, cur) {
		if !isLive(key) {
			keys = append(keys, key)
		}
	}
	return keys
}

func isLive(key string) bool {
	for _, live := range liveKeys {
		if key == live || (strings.HasSuffix(live, ".") && strings.HasPrefix(key, live)) {
			return true
		}
	}
	return false
}

// ReloadOnSignal calls Reload(path) for every value received on sig until
// ctx ends. `bridge serve` feeds it SIGHUP (registered with signal.Notify
// before the bridge starts, so an early SIGHUP cannot kill the process).
func (s *Service) ReloadOnSignal(ctx context.Context, path string, sig <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-sig:
			s.Log.Info("signal received", "signal", v.String())
			s.Reload(path) // problems are logged by Reload
		}
	}
}
