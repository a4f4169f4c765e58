package events

import (
	"context"
	"log/slog"

	"github.com/adshares/dsp-bridge/config"
	"github.com/adshares/dsp-bridge/store"
)

// FromConfig builds the module from the configuration, opening (and locking)
// the spool when events.spool_dir is set. rate is the ADS price in nano-USD
// of the moment (rates.Feed.Nanos).
func FromConfig(st *store.Store, cfg *config.Config, log *slog.Logger, rate func() int64) (*Module, error) {
	var spool *Spool
	if cfg.Events.SpoolDir != "" {
		var err error
		if spool, err = OpenSpool(cfg.Events.SpoolDir); err != nil {
			return nil, err
		}
		if s, err := spool.State(); err == nil && s.Segments > 0 {
			log.Warn("spool holds events from an earlier run; replaying them when the database answers",
				"dir", spool.Dir(), "segments", s.Segments, "bytes", s.Bytes)
		}
	} else {
		log.Info("events.spool_dir is empty: views and clicks get 503 while the database is unreachable")
	}
	m := New(st, log, rate, spool)
	m.FeePPM = cfg.Money.FeePPM()
	m.MaxViewAge, m.WinRetention = cfg.Events.MaxViewAge, cfg.Retention.Wins
	m.BatchSize = cfg.Events.BatchSize
	return m, nil
}

// Check is the `spool` readiness detail: events waiting for the database.
// Spooled events are safe, so it never makes the bridge unready.
func (m *Module) Check(ctx context.Context) (string, any, bool) {
	if m.Spool == nil {
		return "spool", map[string]any{"ok": true, "enabled": false}, true
	}
	st, err := m.Spool.State()
	if err != nil {
		return "spool", map[string]any{"ok": false, "enabled": true, "error": err.Error()}, false
	}
	return "spool", map[string]any{"ok": true, "enabled": true, "segments": st.Segments, "bytes": st.Bytes}, true
}

// Close commits the views still waiting for the group commit, then flushes
// and unlocks the spool. Views after it are stored one by one.
func (m *Module) Close() {
	m.closeViews()
	if m.Spool != nil {
		if err := m.Spool.Close(); err != nil {
			m.Log.Error("spool close", "error", err)
		}
	}
}
