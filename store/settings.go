package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/adshares/dsp-bridge/ads"
)

// Settings keys: small facts the bridge remembers across restarts. Each key
// has exactly one writer, below; the inventory keeps its own per-campaign
// keys (inventory.LoadTimes).
const (
	// SettingFirstStart is the bridge's first start (ATOM): the default
	// campaign date_start, and where payment reports begin.
	SettingFirstStart = "first_start"
	// SettingInventoryFirstFetchedAt is when the AdServer first fetched
	// /inventory (ATOM); until then every report is shown as processing.
	SettingInventoryFirstFetchedAt = "inventory_first_fetched_at"
)

// EnsureFirstStart records now as the bridge's first start unless one is
// stored, and returns the stored one. Concurrent callers (several bridges
// starting at once) all get the same answer.
func (s *Store) EnsureFirstStart(ctx context.Context, now time.Time) (time.Time, error) {
	if _, err := s.Pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		SettingFirstStart, ads.FormatATOM(now)); err != nil {
		return time.Time{}, fmt.Errorf("store: first start: %w", err)
	}
	var value string
	var updated time.Time
	err := s.Pool.QueryRow(ctx, `SELECT value, updated_at FROM settings WHERE key = $1`, SettingFirstStart).Scan(&value, &updated)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: first start: %w", err)
	}
	return parseSettingTime(value, updated), nil
}

// RecordInventoryFetch remembers the first time the AdServer fetched the
// inventory; later calls change nothing.
func (s *Store) RecordInventoryFetch(ctx context.Context, now time.Time) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		SettingInventoryFirstFetchedAt, ads.FormatATOM(now))
	if err != nil {
		return fmt.Errorf("store: record inventory fetch: %w", err)
	}
	return nil
}

// InventoryFetched reports whether the AdServer has fetched /inventory at
// least once (it is registered then, so "done" reports are safe to show).
func (s *Store) InventoryFetched(ctx context.Context) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM settings WHERE key = $1)`, SettingInventoryFirstFetchedAt).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: inventory fetched: %w", err)
	}
	return ok, nil
}

// parseSettingTime reads a stored time whatever its form (ATOM/RFC 3339,
// with or without fractions, or unix seconds), falling back to when the row
// was written: a value written by an older bridge must not stop this one.
func parseSettingTime(value string, updated time.Time) time.Time {
	value = strings.TrimSpace(value)
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(value, 10, 64); err == nil {
		return time.Unix(n, 0)
	}
	return updated
}
