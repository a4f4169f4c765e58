// A DSP's billed views per day, for reconciling them with the DSP's own
// report (bridge payments reconcile).

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DayBilled is one day of a DSP's billed views.
type DayBilled struct {
	Day         string // YYYY-MM-DD in the requested time zone
	Views       int64
	PriceMicros int64 // Σ adjusted micro-USD CPM prices (what the bridge bills)
	// BidSum is Σ of the prices as the DSP sent them (CPM, in its own
	// currency, before any bid adjustment), an exact decimal: what the DSP
	// itself counts as spent, times 1000.
	BidSum string
	// Currencies are the bid currencies of the day's wins, comma-separated
	// (one, unless the DSP's currency changed that day).
	Currencies string
}

// billedByDaySQL sums one DSP's billed views of [$2, $3) per day in time
// zone $4: one table, the range's partitions only.
const billedByDaySQL = `SELECT to_char((e.created_at AT TIME ZONE $4)::date, 'YYYY-MM-DD'), count(*),
			coalesce(sum(e.price_micros), 0)::bigint,
			coalesce(sum(coalesce(nullif(e.bid_price, '')::numeric, e.price_micros::numeric / 1000000)), 0)::text,
			coalesce(string_agg(DISTINCT nullif(e.bid_currency, ''), ','), '')
		FROM events e
		WHERE e.dsp = $1 AND e.type = 'view' AND e.value > 0 AND e.created_at >= $2 AND e.created_at < $3
		GROUP BY 1 ORDER BY 1`

// BilledByDay sums a DSP's billed views recorded in [from, to) per calendar
// day in time zone tz (an IANA name PostgreSQL knows, e.g. "UTC").
func (s *Store) BilledByDay(ctx context.Context, dsp string, from, to time.Time, tz string) ([]DayBilled, error) {
	// bid_price is JSON number text (validated by the auction), which
	// numeric parses exactly; rows stored without it fall back to the USD
	// price. Everything is on the events (migration 008), so the query
	// reads only the range's partitions of one table.
	rows, err := s.Pool.Query(ctx, billedByDaySQL, dsp, from, to, tz)
	if err != nil {
		return nil, fmt.Errorf("store: billed by day: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DayBilled, error) {
		var d DayBilled
		err := row.Scan(&d.Day, &d.Views, &d.PriceMicros, &d.BidSum, &d.Currencies)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: billed by day: %w", err)
	}
	return out, nil
}
