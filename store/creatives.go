package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServedCreative is what the public listener needs to answer /c/{token}:
// the creative's bytes and the win they were served for.
type ServedCreative struct {
	Win         Auction // the win's fields (without its creative bytes)
	ContentType string
	Bytes       []byte
	SHA256      []byte
}

// creativeByTokenSQL finds a public win by its token among the wins made
// after $2 (partition pruning: the public listener answers per request).
const creativeByTokenSQL = `SELECT a.ext_id, a.auction_id, a.request_id, a.dsp, a.seat, a.bid_id, a.ad_id,
		a.bid_currency, a.bid_price, a.nurl, a.created_at, c.content_type, c.bytes, c.sha256
		FROM auctions a JOIN creatives c ON c.sha256 = a.creative_sha256
		WHERE a.serve_token = $1 AND a.serve_token <> '' AND a.created_at > $2`

// CreativeByToken returns the creative of the public win whose serve_token
// is token, if the win was made after since; else ErrNotFound. The bytes
// come with it: a public creative is fetched about once per win.
func (s *Store) CreativeByToken(ctx context.Context, token string, since time.Time) (*ServedCreative, error) {
	var c ServedCreative
	a := &c.Win
	err := s.Pool.QueryRow(ctx, creativeByTokenSQL, token, since).Scan(
		&a.ExtID, &a.AuctionID, &a.RequestID, &a.DSP, &a.Seat, &a.BidID, &a.AdID,
		&a.BidCurrency, &a.BidPrice, &a.NURL, &a.CreatedAt, &c.ContentType, &c.Bytes, &c.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: creative by token: %w", err)
	}
	a.ServeToken, a.CreativeSHA256, a.Delivery = token, c.SHA256, "public"
	return &c, nil
}

// upsertCreativeSQL stores a creative once by content, or moves its last
// use forward.
const upsertCreativeSQL = `INSERT INTO creatives (sha256, content_type, bytes) VALUES ($1, $2, $3)
	ON CONFLICT (sha256) DO UPDATE SET last_used_at = now()`

// StoreCreative stores c (or moves its last use forward) on its own, ahead
// of the wins that will reference it: a large creative is not sent inside
// the win's transaction, which must commit within the auction's deadline.
func (s *Store) StoreCreative(ctx context.Context, c *Creative) error {
	if _, err := s.Pool.Exec(ctx, upsertCreativeSQL, c.SHA256, c.ContentType, c.Bytes); err != nil {
		return fmt.Errorf("store: store creative: %w", err)
	}
	return nil
}

// DeleteUnusedCreatives deletes the creatives no win has used since before:
// their wins can no longer be served. It returns how many it deleted.
func (s *Store) DeleteUnusedCreatives(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM creatives WHERE last_used_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: delete unused creatives: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CreativeCount is how many creatives are stored and their bytes (tests,
// operator tools).
func (s *Store) CreativeCount(ctx context.Context) (n, bytes int64, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(length(bytes)), 0)::bigint FROM creatives`).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("store: creative count: %w", err)
	}
	return n, bytes, nil
}
