// The ADS/USD rates fetched from the rate feed (money.rate_url).

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rate is one ADS/USD rate the feed answered.
type Rate struct {
	FetchedAt time.Time // when the feed answered
	Nanos     int64     // nano-USD per ADS, as views are valued
	Text      string    // the feed's number exactly as sent
	AskedFor  time.Time // the time in the request path
	Source    string    // the URL asked
}

// InsertRate stores a fetched rate; the newest one is the rate in use.
func (s *Store) InsertRate(ctx context.Context, r Rate) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO ads_rates (fetched_at, rate_nanos, rate_text, asked_for, source)
		VALUES ($1, $2, $3, $4, $5)`, r.FetchedAt, r.Nanos, r.Text, r.AskedFor, r.Source)
	if err != nil {
		return fmt.Errorf("store: insert rate: %w", err)
	}
	return nil
}

// LatestRate returns the most recently fetched rate, or ErrNotFound on a
// database that never stored one.
func (s *Store) LatestRate(ctx context.Context) (*Rate, error) {
	var r Rate
	err := s.Pool.QueryRow(ctx, `SELECT fetched_at, rate_nanos, rate_text, asked_for, source
		FROM ads_rates ORDER BY fetched_at DESC, id DESC LIMIT 1`).Scan(&r.FetchedAt, &r.Nanos, &r.Text, &r.AskedFor, &r.Source)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: latest rate: %w", err)
	}
	return &r, nil
}

// LastBilledRate is the rate the most recent billed view was valued at, or
// ErrNotFound before the first one: with a static money.ads_usd, the only
// stored trace of the value the bridge ran with last.
func (s *Store) LastBilledRate(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT rate_nanos FROM events WHERE type = 'view' AND value > 0
		ORDER BY id DESC LIMIT 1`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: last billed rate: %w", err)
	}
	return n, nil
}
