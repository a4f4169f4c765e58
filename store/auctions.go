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

// InsertAuctions stores wins in one round trip and one implicit
// transaction, so that a busy /bid path costs the database one commit per
// call (or per batch of calls), however many slots it has: one INSERT of
// the creatives of public wins, one of the wins and one of the held win
// notices of markup wins, each taking its rows as array parameters (a
// lone win as one VALUES row; winBatch), sent as one pipeline that ends in a single Sync. PostgreSQL
// commits such a pipeline whole or not at all: a win is never stored
// without its notice or its creative. It runs on the connections reserved
// for wins (database.win_conns): slow views, settlement or operator queries
// cannot make it wait for a connection. created_at is a.CreatedAt, or the
// database's now() when zero; an ext_id from NewExtID(now) should be stored
// with CreatedAt zero or now.
//
// An error does not prove that nothing was stored: a context that ends
// while the commit is under way leaves it to the server. It proves that
// either everything or nothing was.
func (s *Store) InsertAuctions(ctx context.Context, wins []Auction) error {
	if len(wins) == 0 {
		return nil
	}
	if err := s.wins.SendBatch(ctx, winBatch(wins)).Close(); err != nil {
		return fmt.Errorf("store: insert auctions: %w", err)
	}
	return nil
}

// InsertAuctionsReleasing is InsertAuctions plus, in the same pipeline and
// commit, ReleaseWinNotices(release, at) for earlier answers: under load
// the releases ride on a commit the wins need anyway instead of costing a
// flush of their own. It returns how many notices it released. On an
// error neither the wins nor the releases were made (or both were, as for
// InsertAuctions): the caller releases them again, which is idempotent.
func (s *Store) InsertAuctionsReleasing(ctx context.Context, wins []Auction, release []string, at time.Time) (int64, error) {
	if len(release) == 0 {
		return 0, s.InsertAuctions(ctx, wins)
	}
	batch := winBatch(wins)
	batch.Queue(releaseWinNoticesSQL, release, at, heldSince(at))
	br := s.wins.SendBatch(ctx, batch)
	var released int64
	for i := range batch.Len() {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return 0, fmt.Errorf("store: insert auctions: %w", err)
		}
		if i == batch.Len()-1 {
			released = tag.RowsAffected()
		}
	}
	if err := br.Close(); err != nil {
		return 0, fmt.Errorf("store: insert auctions: %w", err)
	}
	return released, nil
}

// The INSERTs of winBatch. Each takes a batch's rows as one array per
// column and unnests them: one statement text (one prepared statement and
// one cached plan per connection) whatever the batch size, one executor
// start and one partition-routing set-up per batch instead of per chunk of
// rows, and 31 parameters to encode instead of 31 per row (arrays). The
// unnests stand in the select list (a ProjectSet that streams them in
// step) rather than in FROM, which would first copy each array into a
// tuplestore of its own: per batch of one win that is ~15 % of the
// backend's CPU for the statement.
const (
	insertAuctionsSQL = `INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, bid_adjustment_ppm,
	crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at,
	delivery, creative_path, serve_token, creative_sha256, impression_urls)
SELECT ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, coalesce(nullif(bid_adjustment_ppm, 0), 1000000),
	crid, cid, cat::text[], attr::int[], w, h, mtype, exp, fixed_price, coalesce(created_at, now()),
	delivery, creative_path, serve_token, creative_sha256, impression_urls::text[]
FROM (SELECT unnest($1::text[]) AS ext_id,
	unnest($2::text[]) AS auction_id,
	unnest($3::text[]) AS request_id,
	unnest($4::text[]) AS creative_id,
	unnest($5::text[]) AS dsp,
	unnest($6::text[]) AS seat,
	unnest($7::text[]) AS bid_id,
	unnest($8::text[]) AS ad_id,
	unnest($9::bigint[]) AS price_micros,
	unnest($10::text[]) AS bid_currency,
	unnest($11::text[]) AS bid_price,
	unnest($12::text[]) AS nurl,
	unnest($13::text[]) AS burl,
	unnest($14::text[]) AS click_url,
	unnest($15::text[]) AS adomain,
	unnest($16::bigint[]) AS bid_adjustment_ppm,
	unnest($17::text[]) AS crid,
	unnest($18::text[]) AS cid,
	unnest($19::text[]) AS cat,
	unnest($20::text[]) AS attr,
	unnest($21::int[]) AS w,
	unnest($22::int[]) AS h,
	unnest($23::smallint[]) AS mtype,
	unnest($24::int[]) AS exp,
	unnest($25::boolean[]) AS fixed_price,
	unnest($26::timestamptz[]) AS created_at,
	unnest($27::text[]) AS delivery,
	unnest($28::text[]) AS creative_path,
	unnest($29::text[]) AS serve_token,
	unnest($30::bytea[]) AS creative_sha256,
	unnest($31::text[]) AS impression_urls) w`
	// insertAuctionSQL stores a batch of one win, the most common one: as a
	// plain VALUES row it costs the server less than through unnest, whose
	// executor start (ProjectSet, subquery scan) and array_in were ~15 %
	// of a backend's CPU per win at c16 (perf), when most batches are one
	// win.
	insertAuctionSQL = `INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, bid_adjustment_ppm,
	crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at,
	delivery, creative_path, serve_token, creative_sha256, impression_urls)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10, $11, $12, $13, $14, $15, coalesce(nullif($16::bigint, 0), 1000000),
	$17, $18, $19::text[], $20::int[], $21::int, $22::int, $23::smallint, $24::int, $25::boolean, coalesce($26::timestamptz, now()),
	$27, $28, $29, $30::bytea, $31::text[])`
	// In the win's partition of time: the notice is due when the hold
	// passes, or when the handler releases it.
	insertWinNoticesSQL = `INSERT INTO outbox (ext_id, dsp, kind, url, next_attempt_at, created_at)
SELECT ext_id, dsp, 'nurl', url, due, coalesce(created_at, now())
FROM (SELECT unnest($1::text[]) AS ext_id, unnest($2::text[]) AS dsp, unnest($3::text[]) AS url,
	unnest($4::timestamptz[]) AS due, unnest($5::timestamptz[]) AS created_at) n`
	// Rows in the order given (unnest keeps it): sorted by hash.
	insertCreativesSQL = `INSERT INTO creatives (sha256, content_type, bytes)
SELECT sha256, content_type, bytes FROM unnest($1::bytea[], $2::text[], $3::bytea[]) AS c (sha256, content_type, bytes)
ON CONFLICT (sha256) DO UPDATE SET last_used_at = now()`
)

// winBatch is the pipeline that stores wins: their creatives first, once
// each and sorted by hash (two batches touching the same creatives lock
// their rows in the same order: no deadlock), then the wins, then their
// held win notices. A statement without rows is left out.
func winBatch(wins []Auction) *pgx.Batch {
	var creatives []*Creative
	for i := range wins {
		if c := wins[i].Creative; c != nil && !slices.ContainsFunc(creatives, func(o *Creative) bool { return bytes.Equal(o.SHA256, c.SHA256) }) {
			creatives = append(creatives, c)
		}
	}
	slices.SortFunc(creatives, func(a, b *Creative) int { return bytes.Compare(a.SHA256, b.SHA256) })
	var held []*Auction
	for i := range wins {
		if wins[i].WinNotice != "" {
			held = append(held, &wins[i])
		}
	}
	var notices arrays
	if len(held) > 0 {
		h := len(held)
		notices.texts(h, func(i int) string { return held[i].ExtID })
		notices.texts(h, func(i int) string { return held[i].DSP })
		notices.texts(h, func(i int) string { return held[i].WinNotice })
		notices.times(h, func(i int) time.Time { return held[i].WinNoticeDue })
		notices.times(h, func(i int) time.Time { return held[i].CreatedAt })
	}
	batch := &pgx.Batch{}
	if len(creatives) > 0 {
		sha, types, content := make([][]byte, len(creatives)), make([]string, len(creatives)), make([][]byte, len(creatives))
		for i, cr := range creatives {
			sha[i], types[i], content[i] = cr.SHA256, cr.ContentType, cr.Bytes
		}
		batch.Queue(insertCreativesSQL, sha, types, content)
	}
	if len(wins) == 1 {
		a := &wins[0]
		var at *time.Time
		if !a.CreatedAt.IsZero() {
			at = &a.CreatedAt
		}
		batch.Queue(insertAuctionSQL, a.ExtID, a.AuctionID, a.RequestID, a.CreativeID, a.DSP, a.Seat, a.BidID, a.AdID,
			a.PriceMicros, a.BidCurrency, a.BidPrice, a.NURL, a.BURL, a.ClickURL, a.ADomain, a.BidAdjustmentPPM,
			a.CrID, a.CID, nonNil(a.Cat), nonNil(a.Attr), a.W, a.H, a.MType, a.Exp, a.FixedPrice, at,
			a.Delivery, a.CreativePath, a.ServeToken, a.CreativeSHA256, nonNil(a.ImpressionURLs))
	} else {
		batch.Queue(insertAuctionsSQL, winColumns(wins)...)
	}
	if len(held) > 0 {
		batch.Queue(insertWinNoticesSQL, notices.params()...)
	}
	return batch
}

// winColumns are the parameters of insertAuctionsSQL for wins.
func winColumns(wins []Auction) []any {
	n, w := len(wins), func(i int) *Auction { return &wins[i] }
	size := 0
	for i := range wins {
		a := &wins[i]
		size += 256 + len(a.NURL) + len(a.BURL) + len(a.ClickURL) + len(a.ADomain) + len(a.AuctionID) + len(a.CreativeID)
	}
	cols := newArrays(size, 31)
	cols.texts(n, func(i int) string { return w(i).ExtID })
	cols.texts(n, func(i int) string { return w(i).AuctionID })
	cols.texts(n, func(i int) string { return w(i).RequestID })
	cols.texts(n, func(i int) string { return w(i).CreativeID })
	cols.texts(n, func(i int) string { return w(i).DSP })
	cols.texts(n, func(i int) string { return w(i).Seat })
	cols.texts(n, func(i int) string { return w(i).BidID })
	cols.texts(n, func(i int) string { return w(i).AdID })
	cols.ints(n, func(i int) int64 { return w(i).PriceMicros })
	cols.texts(n, func(i int) string { return w(i).BidCurrency })
	cols.texts(n, func(i int) string { return w(i).BidPrice })
	cols.texts(n, func(i int) string { return w(i).NURL })
	cols.texts(n, func(i int) string { return w(i).BURL })
	cols.texts(n, func(i int) string { return w(i).ClickURL })
	cols.texts(n, func(i int) string { return w(i).ADomain })
	cols.ints(n, func(i int) int64 { return w(i).BidAdjustmentPPM })
	cols.texts(n, func(i int) string { return w(i).CrID })
	cols.texts(n, func(i int) string { return w(i).CID })
	cols.textArrays(n, func(i int) []string { return w(i).Cat })
	cols.intArrays(n, func(i int) []int32 { return w(i).Attr })
	cols.ints(n, func(i int) int64 { return w(i).W })
	cols.ints(n, func(i int) int64 { return w(i).H })
	cols.ints(n, func(i int) int64 { return w(i).MType })
	cols.ints(n, func(i int) int64 { return w(i).Exp })
	cols.bools(n, func(i int) bool { return w(i).FixedPrice })
	cols.times(n, func(i int) time.Time { return w(i).CreatedAt })
	cols.texts(n, func(i int) string { return w(i).Delivery })
	cols.texts(n, func(i int) string { return w(i).CreativePath })
	cols.texts(n, func(i int) string { return w(i).ServeToken })
	cols.byteas(n, func(i int) []byte { return w(i).CreativeSHA256 })
	cols.textArrays(n, func(i int) []string { return w(i).ImpressionURLs })
	return cols.params()
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
