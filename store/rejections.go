package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RejectionCount is how many bids of one DSP were rejected for one reason
// on one UTC day.
type RejectionCount struct {
	Day    time.Time // midnight UTC
	DSP    string
	Reason string
	Bids   int64
}

// AddRejections adds counts to the stored ones, in one transaction.
func (s *Store) AddRejections(ctx context.Context, counts []RejectionCount) error {
	if len(counts) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, c := range counts {
		batch.Queue(`INSERT INTO rejection_counts (day, dsp, reason, bids) VALUES ($1, $2, $3, $4)
			ON CONFLICT (day, dsp, reason) DO UPDATE SET bids = rejection_counts.bids + EXCLUDED.bids`,
			c.Day.UTC().Format(time.DateOnly), c.DSP, c.Reason, c.Bids)
	}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
	if err != nil {
		return fmt.Errorf("store: add rejections: %w", err)
	}
	return nil
}

// Rejections sums the rejection counts per DSP and reason over the UTC days
// the range [from, to) touches (counts are kept per day).
func (s *Store) Rejections(ctx context.Context, from, to time.Time) (map[string]map[string]int64, error) {
	last := to.Add(-time.Microsecond)
	rows, err := s.Pool.Query(ctx, `SELECT dsp, reason, sum(bids)::bigint FROM rejection_counts
		WHERE day >= $1::date AND day <= $2::date GROUP BY dsp, reason`,
		from.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("store: rejections: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var dsp, reason string
		var n int64
		if err := rows.Scan(&dsp, &reason, &n); err != nil {
			return nil, fmt.Errorf("store: rejections: %w", err)
		}
		if out[dsp] == nil {
			out[dsp] = map[string]int64{}
		}
		out[dsp][reason] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rejections: %w", err)
	}
	return out, nil
}
