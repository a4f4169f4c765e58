package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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

	// Delivery is how the creative reaches the browser: "nurl" (serve_url
	// is the nurl), "inline", "public" or "direct"; "" for wins stored
	// before creatives from markup.
	Delivery string
	// CreativePath is where the creative came from: markup_image, vast or
	// nurl.
	CreativePath string
	// ServeToken and CreativeSHA256 are set for public delivery: the
	// /c/{token} of serve_url and the creatives row it serves.
	ServeToken     string
	CreativeSHA256 []byte
	// ImpressionURLs are the markup's pixels or the VAST Impression URLs,
	// macros expanded: fired with the burl when the view arrives.
	ImpressionURLs []string

	// Creative, if set, is stored (or its last use moved forward) in the
	// same transaction as the win: the bytes behind CreativeSHA256.
	Creative *Creative
	// WinNotice, if set, is the win's expanded nurl, enqueued in the same
	// transaction but held until WinNoticeDue: the handler releases it
	// once /bid has answered (ReleaseWinNotices), and a crash fires it
	// when the hold passes.
	WinNotice    string
	WinNoticeDue time.Time
}

// Creative is the content of a creative the bridge serves itself.
type Creative struct {
	SHA256      []byte
	ContentType string
	Bytes       []byte
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// InsertAuctions stores wins in one round trip (one transaction), so that a
// busy /bid path costs the database one commit per call, not per slot. It
// runs on the connections reserved for wins (database.win_conns): slow
// views, settlement or operator queries cannot make it wait for a
// connection. created_at is a.CreatedAt, or the database's now() when zero;
// an ext_id from NewExtID(now) should be stored with CreatedAt zero or now. The
// creatives of public wins and the held win notices of markup wins are
// written in the same transaction.
func (s *Store) InsertAuctions(ctx context.Context, wins []Auction) error {
	if len(wins) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	// Creatives first, once each, in a fixed order: two batches touching
	// the same creatives lock their rows in the same order (no deadlock).
	var creatives []*Creative
	for i := range wins {
		if c := wins[i].Creative; c != nil && !slices.ContainsFunc(creatives, func(o *Creative) bool { return bytes.Equal(o.SHA256, c.SHA256) }) {
			creatives = append(creatives, c)
		}
	}
	slices.SortFunc(creatives, func(a, b *Creative) int { return bytes.Compare(a.SHA256, b.SHA256) })
	for _, c := range creatives {
		batch.Queue(upsertCreativeSQL, c.SHA256, c.ContentType, c.Bytes)
	}
	for _, a := range wins {
		var at *time.Time
		if !a.CreatedAt.IsZero() {
			at = &a.CreatedAt
		}
		impressions := a.ImpressionURLs
		if impressions == nil {
			impressions = []string{}
		}
		batch.Queue(`INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
			price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, bid_adjustment_ppm,
			crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at,
			delivery, creative_path, serve_token, creative_sha256, impression_urls)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, coalesce(nullif($16::bigint, 0), 1000000),
			$17, $18, $19, $20, $21, $22, $23, $24, $25, coalesce($26::timestamptz, now()),
			$27, $28, $29, $30, $31)`,
			a.ExtID, a.AuctionID, a.RequestID, a.CreativeID, a.DSP, a.Seat, a.BidID, a.AdID,
			a.PriceMicros, a.BidCurrency, a.BidPrice, a.NURL, a.BURL, a.ClickURL, a.ADomain, a.BidAdjustmentPPM,
			a.CrID, a.CID, nonNil(a.Cat), nonNil(a.Attr), a.W, a.H, a.MType, a.Exp, a.FixedPrice, at,
			a.Delivery, a.CreativePath, a.ServeToken, a.CreativeSHA256, impressions)
		if a.WinNotice != "" {
			// In the win's partition of time: the notice is due when the
			// hold passes, or when the handler releases it.
			batch.Queue(`INSERT INTO outbox (ext_id, dsp, kind, url, next_attempt_at, created_at)
				VALUES ($1, $2, 'nurl', $3, $4, coalesce($5::timestamptz, now()))`,
				a.ExtID, a.DSP, a.WinNotice, a.WinNoticeDue, at)
		}
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
	crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at,
	delivery, creative_path, serve_token, creative_sha256, impression_urls`

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
		&a.CrID, &a.CID, &a.Cat, &a.Attr, &a.W, &a.H, &a.MType, &a.Exp, &a.FixedPrice, &a.CreatedAt,
		&a.Delivery, &a.CreativePath, &a.ServeToken, &a.CreativeSHA256, &a.ImpressionURLs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get auction: %w", err)
	}
	return &a, nil
}
