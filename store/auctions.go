package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// call (or per batch of calls), however many slots it has: multi-row
// INSERTs (at most winChunk rows each) of the wins, of the creatives of
// public wins and of the held win notices of markup wins, sent as one
// pipeline that ends in a single Sync. PostgreSQL commits such a pipeline
// whole or not at all: a win is never stored without its notice or its
// creative. It runs on the connections reserved for wins
// (database.win_conns): slow views, settlement or operator queries cannot
// make it wait for a connection. created_at is a.CreatedAt, or the
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

// winChunk is the most rows one INSERT of winBatch takes: bigger batches
// are cut into chunks, so that at most winChunk statement texts per table
// are prepared and cached on each connection.
const winChunk = 16

// The column lists and one row's values of winBatch's INSERTs, with
// placeholders numbered from 1 (rowsSQL renumbers them per row).
const (
	insertAuctionSQL = `INSERT INTO auctions (ext_id, auction_id, request_id, creative_id, dsp, seat, bid_id, ad_id,
	price_micros, bid_currency, bid_price, nurl, burl, click_url, adomain, bid_adjustment_ppm,
	crid, cid, cat, attr, w, h, mtype, exp, fixed_price, created_at,
	delivery, creative_path, serve_token, creative_sha256, impression_urls) VALUES `
	auctionRowSQL = `($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10, $11, $12, $13, $14, $15, coalesce(nullif($16::bigint, 0), 1000000),
	$17, $18, $19::text[], $20::int[], $21::int, $22::int, $23::smallint, $24::int, $25::boolean, coalesce($26::timestamptz, now()),
	$27, $28, $29, $30::bytea, $31::text[])`
	auctionArgs = 31
	// In the win's partition of time: the notice is due when the hold
	// passes, or when the handler releases it.
	insertWinNoticeSQL = `INSERT INTO outbox (ext_id, dsp, kind, url, next_attempt_at, created_at) VALUES `
	winNoticeRowSQL    = `($1, $2, 'nurl', $3, $4::timestamptz, coalesce($5::timestamptz, now()))`
	winNoticeArgs      = 5
	insertCreativeSQL  = `INSERT INTO creatives (sha256, content_type, bytes) VALUES `
	creativeRowSQL     = `($1::bytea, $2, $3::bytea)`
	creativeArgs       = 3
	upsertCreativeTail = ` ON CONFLICT (sha256) DO UPDATE SET last_used_at = now()`
)

// The statement texts of 1..winChunk rows, built once.
var (
	auctionsSQL   = chunkSQL(insertAuctionSQL, auctionRowSQL, auctionArgs, "")
	winNoticesSQL = chunkSQL(insertWinNoticeSQL, winNoticeRowSQL, winNoticeArgs, "")
	creativesSQL  = chunkSQL(insertCreativeSQL, creativeRowSQL, creativeArgs, upsertCreativeTail)
)

// chunkSQL returns the INSERT of n rows at [n-1] for n = 1..winChunk.
func chunkSQL(head, row string, args int, tail string) []string {
	out := make([]string, winChunk)
	for n := 1; n <= winChunk; n++ {
		out[n-1] = head + rowsSQL(row, args, n) + tail
	}
	return out
}

// rowsSQL repeats row n times, its placeholders $1..$args shifted to
// $(i*args+1).. for the i-th copy.
func rowsSQL(row string, args, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		r := row
		// Highest first: $1 must not rewrite the start of $10.
		for p := args; p >= 1; p-- {
			r = strings.ReplaceAll(r, "$"+strconv.Itoa(p), "$#"+strconv.Itoa(i*args+p))
		}
		b.WriteString(strings.ReplaceAll(r, "$#", "$"))
	}
	return b.String()
}

// queueChunks queues the INSERTs of rows (each row args values long) in
// chunks of at most winChunk rows.
func queueChunks(batch *pgx.Batch, texts []string, args int, values []any) {
	for len(values) > 0 {
		n := min(len(values)/args, winChunk)
		batch.Queue(texts[n-1], values[:n*args]...)
		values = values[n*args:]
	}
}

// winBatch is the pipeline that stores wins: their creatives first, once
// each and sorted by hash (two batches touching the same creatives lock
// their rows in the same order: no deadlock), then the wins, then their
// held win notices.
func winBatch(wins []Auction) *pgx.Batch {
	var creatives []*Creative
	for i := range wins {
		if c := wins[i].Creative; c != nil && !slices.ContainsFunc(creatives, func(o *Creative) bool { return bytes.Equal(o.SHA256, c.SHA256) }) {
			creatives = append(creatives, c)
		}
	}
	slices.SortFunc(creatives, func(a, b *Creative) int { return bytes.Compare(a.SHA256, b.SHA256) })
	cvals := make([]any, 0, len(creatives)*creativeArgs)
	for _, c := range creatives {
		cvals = append(cvals, c.SHA256, c.ContentType, c.Bytes)
	}
	avals := make([]any, 0, len(wins)*auctionArgs)
	var nvals []any
	for i := range wins {
		a := &wins[i]
		var at *time.Time
		if !a.CreatedAt.IsZero() {
			at = &a.CreatedAt
		}
		avals = append(avals, a.ExtID, a.AuctionID, a.RequestID, a.CreativeID, a.DSP, a.Seat, a.BidID, a.AdID,
			a.PriceMicros, a.BidCurrency, a.BidPrice, a.NURL, a.BURL, a.ClickURL, a.ADomain, a.BidAdjustmentPPM,
			a.CrID, a.CID, nonNil(a.Cat), nonNil(a.Attr), a.W, a.H, a.MType, a.Exp, a.FixedPrice, at,
			a.Delivery, a.CreativePath, a.ServeToken, a.CreativeSHA256, nonNil(a.ImpressionURLs))
		if a.WinNotice != "" {
			nvals = append(nvals, a.ExtID, a.DSP, a.WinNotice, a.WinNoticeDue, at)
		}
	}
	batch := &pgx.Batch{}
	queueChunks(batch, creativesSQL, creativeArgs, cvals)
	queueChunks(batch, auctionsSQL, auctionArgs, avals)
	queueChunks(batch, winNoticesSQL, winNoticeArgs, nvals)
	return batch
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
