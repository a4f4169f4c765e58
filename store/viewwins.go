package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// viewWinColumns are the columns of a win that a view reads: what prices,
// dates and bills it and expands its burl and pixels. The rest of the row
// (the creative, the nurl, categories, sizes: half the columns, two arrays
// and a bytea) is never looked at by a view, and decoding it was a
// measurable part of the bridge's CPU per view.
const viewWinColumns = `ext_id, auction_id, request_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, burl, bid_adjustment_ppm, exp, fixed_price, created_at, impression_urls`

// getAuctionsNearSQL finds many wins in the partitions around their
// ext_ids' times ($2..$3 spans them all).
const getAuctionsNearSQL = `SELECT ` + viewWinColumns + ` FROM auctions
	WHERE ext_id = ANY($1::text[]) AND created_at >= $2 AND created_at < $3`

// getAuctionsSQL finds many wins in every partition (ext_ids without a
// time, or not found near it).
const getAuctionsSQL = `SELECT ` + viewWinColumns + ` FROM auctions WHERE ext_id = ANY($1::text[])`

// getAuctionsInSQL finds many wins in one partition of auctions, named by
// %s (partcache.go: a generic plan, no planning per group).
const getAuctionsInSQL = `SELECT ` + viewWinColumns + ` FROM %s WHERE ext_id = ANY($1::text[])`

// GetAuctions returns the wins stored under extIDs, by ext_id (an unknown
// one is missing from the map), with the columns a view reads only
// (viewWinColumns; the other fields are zero). It is the look-up of a
// group of views, and it looks where each win must be first: an ext_id
// carries its time, so its win is in the partition holding that time
// (give or take extIDSlack), which is read by name. Those near a
// partition's edge or near none known are looked for near their time on
// the parent; what is still missing (and ext_ids without a time) in every
// partition, as GetAuction does.
func (s *Store) GetAuctions(ctx context.Context, extIDs []string) (map[string]*Auction, error) {
	out := make(map[string]*Auction, len(extIDs))
	var near, far []string
	var lo, hi time.Time
	parts := s.partitionsOf(ctx, "auctions").parts
	byPart := map[string][]string{}
	for _, id := range extIDs {
		t, ok := ExtIDTime(id)
		if !ok {
			far = append(far, id)
			continue
		}
		if p, ok := holding(parts, t.Add(-extIDSlack), t.Add(extIDSlack)); ok {
			byPart[p.Name] = append(byPart[p.Name], id)
			continue
		}
		if len(near) == 0 || t.Before(lo) {
			lo = t
		}
		if len(near) == 0 || t.After(hi) {
			hi = t
		}
		near = append(near, id)
	}
	if len(byPart) > 0 {
		// A failed read (a partition gone since the list was read) found
		// nothing: the parent finds every win wherever it is.
		_ = s.getAuctionsIn(ctx, out, byPart)
		for _, ids := range byPart {
			for _, id := range ids {
				if out[id] == nil {
					far = append(far, id)
				}
			}
		}
	}
	if len(near) > 0 {
		if err := s.collectAuctions(ctx, out, getAuctionsNearSQL, near, lo.Add(-extIDSlack), hi.Add(extIDSlack)); err != nil {
			return nil, err
		}
		for _, id := range near {
			if out[id] == nil {
				far = append(far, id)
			}
		}
	}
	if len(far) > 0 {
		if err := s.collectAuctions(ctx, out, getAuctionsSQL, far); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// getAuctionsIn reads the wins of byPart's ext_ids from the partition each
// is keyed by, one statement per partition, all in one round trip.
func (s *Store) getAuctionsIn(ctx context.Context, out map[string]*Auction, byPart map[string][]string) error {
	stmts := make([]onePartition, 0, len(byPart))
	found := map[string]*Auction{}
	for name, ids := range byPart {
		stmts = append(stmts, onePartition{
			sql:  fmt.Sprintf(getAuctionsInSQL, pgx.Identifier{name}.Sanitize()),
			args: []any{ids},
			rows: func(rows pgx.Rows) error { return scanViewWins(rows, found) },
		})
	}
	if err := s.onPartitions(ctx, stmts); err != nil {
		return err
	}
	// Only once every statement answered: a failed read adds nothing.
	for id, a := range found {
		out[id] = a
	}
	return nil
}

func (s *Store) collectAuctions(ctx context.Context, out map[string]*Auction, sql string, args ...any) error {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("store: get auctions: %w", err)
	}
	defer rows.Close()
	if err := scanViewWins(rows, out); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: get auctions: %w", err)
	}
	return nil
}

// scanViewWins reads rows of viewWinColumns into out, by ext_id.
func scanViewWins(rows pgx.Rows, out map[string]*Auction) error {
	for rows.Next() {
		var a Auction
		if err := rows.Scan(&a.ExtID, &a.AuctionID, &a.RequestID, &a.DSP, &a.Seat, &a.BidID, &a.AdID,
			&a.PriceMicros, &a.BidCurrency, &a.BidPrice, &a.BURL, &a.BidAdjustmentPPM, &a.Exp, &a.FixedPrice,
			&a.CreatedAt, &a.ImpressionURLs); err != nil {
			return fmt.Errorf("store: get auctions: %w", err)
		}
		out[a.ExtID] = &a
	}
	return nil
}
