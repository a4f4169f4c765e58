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
