package store

import (
	"context"
	"fmt"
	"time"
)

// UseNonce records a signature nonce seen by this bridge and reports
// whether it is new: false means another request (to this or any other
// instance sharing the database) used it within keep, a replay. Nonces
// older than keep are forgotten in the same statement (the database's
// clock decides their age, never an instance's).
func (s *Store) UseNonce(ctx context.Context, nonce []byte, keep time.Duration) (bool, error) {
	var fresh bool
	err := s.Pool.QueryRow(ctx, `WITH gone AS (DELETE FROM auth_nonces WHERE seen_at < statement_timestamp() - $2::interval),
		added AS (INSERT INTO auth_nonces (nonce, seen_at) VALUES ($1, statement_timestamp()) ON CONFLICT (nonce) DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM added)`, nonce, keep).Scan(&fresh)
	if err != nil {
		return false, fmt.Errorf("store: use nonce: %w", err)
	}
	return fresh, nil
}
