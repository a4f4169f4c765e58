package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A markup bid's nurl is a win notice the bridge fires itself. For inline
// (and direct) delivery it is written with the win but held (due only after
// a hold longer than the time /bid can take): ReleaseWinNotices makes it due
// once /bid has answered, CancelWinNotices drops it when the answer could
// not be written, and a crash in between fires it when the hold passes — at
// least once across crashes, exactly once otherwise. For public delivery it
// is enqueued at the first fetch of the creative (EnqueueWinNotice): the
// serve event the Adshares profile ties the nurl to.

// heldWinNotice selects a held win notice nobody has claimed or tried yet.
const heldWinNotice = `kind = 'nurl' AND seq = 0 AND status = 'pending' AND attempts = 0 AND claim = ''`

// heldSince bounds the look-up of held win notices to the partitions of
// the last hours: they were written with their wins moments ago (clocks of
// instances and the database differ a little, never a day).
func heldSince(at time.Time) time.Time { return at.Add(-clockSlack) }

// releaseWinNoticesSQL makes the held win notices of $1 due at $2, among
// the notices created since $3 (per /bid: partition pruning).
const releaseWinNoticesSQL = `UPDATE outbox SET next_attempt_at = $2
	WHERE ext_id = ANY($1) AND ` + heldWinNotice + ` AND next_attempt_at > $2 AND created_at >= $3`

// ReleaseWinNotices makes the held win notices of extIDs due at at. Notices
// already released, claimed or tried are left alone. It returns how many it
// released.
func (s *Store) ReleaseWinNotices(ctx context.Context, extIDs []string, at time.Time) (int64, error) {
	if len(extIDs) == 0 {
		return 0, nil
	}
	tag, err := s.Pool.Exec(ctx, releaseWinNoticesSQL, extIDs, at, heldSince(at))
	if err != nil {
		return 0, fmt.Errorf("store: release win notices: %w", err)
	}
	return tag.RowsAffected(), nil
}

// CancelWinNotices deletes the held win notices of extIDs: /bid could not
// answer with those wins, so the DSP must not hear that it won.
func (s *Store) CancelWinNotices(ctx context.Context, extIDs []string) (int64, error) {
	if len(extIDs) == 0 {
		return 0, nil
	}
	tag, err := s.Pool.Exec(ctx, `DELETE FROM outbox WHERE ext_id = ANY($1) AND `+heldWinNotice+` AND created_at >= $2`,
		extIDs, heldSince(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("store: cancel win notices: %w", err)
	}
	return tag.RowsAffected(), nil
}

// enqueueWinNoticeSQL inserts a win's nurl unless the win has one: run
// under the ext_id's advisory lock (as events are), looked up only in the
// partitions from the win's time ($5) on.
const enqueueWinNoticeSQL = `INSERT INTO outbox (ext_id, dsp, kind, url, created_at, next_attempt_at)
	SELECT $1, $2, 'nurl', $3, $4, $4
	WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE ext_id = $1 AND kind = 'nurl' AND created_at >= $5)`

// EnqueueWinNotice enqueues a win's nurl (macros expanded) due at at, once:
// it reports false when the win already has one (a repeated serve). winAt
// is the win's created_at.
func (s *Store) EnqueueWinNotice(ctx context.Context, extID, dsp, url string, at, winAt time.Time) (bool, error) {
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, eventLockClass, extID)
	batch.Queue(enqueueWinNoticeSQL, extID, dsp, url, at, minTime(winAt, at).Add(-clockSlack))
	br := s.Pool.SendBatch(ctx, batch)
	_, err := br.Exec()
	var inserted bool
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		inserted = tag.RowsAffected() == 1
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("store: enqueue win notice: %w", err)
	}
	return inserted, nil
}

// DeliveredByKind counts delivered notices per DSP and kind (nurl, burl,
// imp): a full scan, for the demo's checks and operator tools.
func (s *Store) DeliveredByKind(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT dsp, kind, count(*) FROM outbox WHERE status = 'delivered' GROUP BY dsp, kind`)
	if err != nil {
		return nil, fmt.Errorf("store: delivered by kind: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var dsp, kind string
		var n int64
		if err := rows.Scan(&dsp, &kind, &n); err != nil {
			return nil, fmt.Errorf("store: delivered by kind: %w", err)
		}
		if out[dsp] == nil {
			out[dsp] = map[string]int64{}
		}
		out[dsp][kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: delivered by kind: %w", err)
	}
	return out, nil
}
