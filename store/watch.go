// What the payment alerts watch (metrics, read at scrape time).

package store

import (
	"context"
	"fmt"
	"time"
)

// ReportHealth is the state of the payment reports an operator alerts on.
type ReportHealth struct {
	// OldestProcessingEnd is the period end of the oldest report still
	// processing (nil when none is): it should be done settle_after later.
	OldestProcessingEnd *time.Time
	// LastDoneValue is the value (ADS clicks) of the newest done report
	// (nil when none is done yet).
	LastDoneValue *int64
}

// ReportHealth reads both from the reports table (two index lookups).
func (s *Store) ReportHealth(ctx context.Context) (ReportHealth, error) {
	var h ReportHealth
	err := s.Pool.QueryRow(ctx, `SELECT
			(SELECT period_end FROM payment_reports WHERE status = 'processing' ORDER BY id LIMIT 1),
			(SELECT value FROM payment_reports WHERE status = 'done' ORDER BY id DESC LIMIT 1)`).
		Scan(&h.OldestProcessingEnd, &h.LastDoneValue)
	if err != nil {
		return ReportHealth{}, fmt.Errorf("store: report health: %w", err)
	}
	return h, nil
}
