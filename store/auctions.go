package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Auction is one won slot: the winning bid, stored under its ext_id before
// /bid answers.
type Auction struct {
	ExtID       string
	AuctionID   string // OpenRTB BidRequest.id
	RequestID   string // AdServer slot id = imp.id
	CreativeID  string
	DSP         string
	Seat        string
	BidID       string
	AdID        string
	PriceMicros int64 // clearing price, micro-USD CPM, after the bid adjustment
	// BidAdjustmentPPM is the DSP's bid adjustment applied to reach
	// PriceMicros (parts per million; 0 is stored as 1e6, none).
	BidAdjustmentPPM int64
	BidCurrency      string // the DSP's currency
	BidPrice         string // price as the DSP sent it (for ${AUCTION_PRICE})
	NURL             string
	BURL             string
	ClickURL         string
	ADomain          string // every adomain of the bid, comma-separated
	// What identifies the creative (migration 006).
	CrID, CID  string
	Cat        []string // IAB categories the bid declared
	Attr       []int32  // creative attributes the bid declared
	W, H       int64    // the bid's size, 0 if it gave none
	MType      int64    // markup type (1 banner, 2 video, ...), 0 if none
	Exp        int64    // seconds the bid stays valid, 0 if none
	FixedPrice bool     // PriceMicros is the DSP's dsps[].fixed_cpm: the bid had no price
	CreatedAt  time.Time
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// InsertAuctions stores wins in one round trip (one transaction), so that a
// busy /bid path costs the database one commit per call, not per slot. It
// runs on the connections reserved for wins (database.win_conns): slow
// views, settlement or operator queries cannot make it wait for a
// connection. created_at is a.CreatedAt, or the database's now() when zero;
// an ext_id from NewExtID(now) should be stored with CreatedAt zero or now.
func (s *Store) InsertAuctions(ctx context.Context, wins []Auction) error {
	if len(wins) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, a := range wins {
		var at *time.Time
		if !a.CreatedAt.IsZero() {
			at = &a.CreatedAt
		}
		batch.Queue(`INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
			price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, bid_adjustment_ppm,
			crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, coalesce(nullif($16::bigint, 0), 1000000),
			$17, $18, $19, $20, $21, $22, $23, $24, $25, coalesce($26::timestamptz, now()))`,
			a.ExtID, a.AuctionID, a.RequestID, a.CreativeID, a.DSP, a.Seat, a.BidID, a.AdID,
			a.PriceMicros, a.BidCurrency, a.BidPrice, a.NURL, a.BURL, a.ClickURL, a.ADomain, a.BidAdjustmentPPM,
			a.CrID, a.CID, nonNil(a.Cat), nonNil(a.Attr), a.W, a.H, a.MType, a.Exp, a.FixedPrice, at)
	}
	err := pgx.BeginFunc(ctx, s.wins, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("store: insert auctions: %w", err)
	}
	return nil
}

// nonNil keeps a NOT NULL array column from receiving NULL for a nil slice.
func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

// extIDSlack is how far from the time in its ext_id a win is looked for
// first: clocks of the instance that made it and of the database may
// differ a little, never an hour.
const extIDSlack = time.Hour

const auctionColumns = `ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, bid_adjustment_ppm,
	crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at`

// getAuctionNearSQL finds a win in the partitions around its ext_id's time.
const getAuctionNearSQL = `SELECT ` + auctionColumns + ` FROM auctions
	WHERE ext_id = $1 AND created_at >= $2 AND created_at < $3`

// getAuctionSQL finds a win in every partition (ext_ids without a time).
const getAuctionSQL = `SELECT ` + auctionColumns + ` FROM auctions WHERE ext_id = $1`

// GetAuction returns the win stored under extID, or ErrNotFound. An ext_id
// from NewExtID is looked up in the partitions near its time first.
func (s *Store) GetAuction(ctx context.Context, extID string) (*Auction, error) {
	if t, ok := ExtIDTime(extID); ok {
		a, err := s.getAuction(ctx, getAuctionNearSQL, extID, t.Add(-extIDSlack), t.Add(extIDSlack))
		if !errors.Is(err, ErrNotFound) {
			return a, err
		}
	}
	return s.getAuction(ctx, getAuctionSQL, extID)
}

func (s *Store) getAuction(ctx context.Context, sql string, args ...any) (*Auction, error) {
	var a Auction
	err := s.Pool.QueryRow(ctx, sql, args...).Scan(
		&a.ExtID, &a.AuctionID, &a.RequestID, &a.CreativeID, &a.DSP, &a.Seat, &a.BidID, &a.AdID,
		&a.PriceMicros, &a.BidCurrency, &a.BidPrice, &a.NURL, &a.BURL, &a.ClickURL, &a.ADomain, &a.BidAdjustmentPPM,
		&a.CrID, &a.CID, &a.Cat, &a.Attr, &a.W, &a.H, &a.MType, &a.Exp, &a.FixedPrice, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get auction: %w", err)
	}
	return &a, nil
}
