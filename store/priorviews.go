package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The first round trip of a group of views: its transaction, the locks of
// its ext_ids and the look-up of their earlier views.
//
// The look-up reads events, so on the parent it is planned afresh for every
// group (a third of the database's time per view in issue 14's runs).
// With the events partitions known (partcache.go) it names them instead:
// every partition whose range overlaps the group's look-back ranges, and
// the default one, under a generic plan. Missing a partition there would
// bill a repeated view, so the statement itself checks, in its own
// snapshot, that events has exactly the partitions the list was made from
// (their oids); if not, the list is dropped and the look-up is run again
// on the parent, in the same transaction. One snapshot decides both: a
// partition made after it holds no view this look-up must see (any such
// view was committed before the locks were taken, into a partition that
// existed then), and rows moved out of the default partition into a new
// one (createPartition) are still in the default one for a snapshot that
// predates the move, or the new partition is in the catalog for one that
// does not.

// lockEventsSQL takes the advisory locks of many ext_ids, in the order of
// their keys, so that two batches sharing ext_ids never deadlock.
const lockEventsSQL = `SELECT count(pg_advisory_xact_lock($1::int, h)) FROM
	(SELECT DISTINCT hashtext(x) AS h FROM unnest($2::text[]) AS x ORDER BY 1 OFFSET 0) AS k`

// priorViewsSQL finds, for each view (in the order of the arrays), whether
// its win has an earlier view in the view's look-back range (seen) and
// whether one has its case id (dup). $5..$6 spans every view's range:
// constants the planner prunes the events partitions with (the per-view
// bounds, from the arrays, cannot).
const priorViewsSQL = `SELECT x.seen, x.dup
	FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS v(ext_id, case_id, look_from, look_to, n)
	CROSS JOIN LATERAL (SELECT count(*) > 0 AS seen, coalesce(bool_or(e.case_id = v.case_id), false) AS dup
		FROM events e WHERE e.ext_id = v.ext_id AND e.type = 'view'
			AND e.created_at >= v.look_from AND e.created_at < v.look_to
			AND e.created_at >= $5 AND e.created_at < $6) AS x
	ORDER BY v.n`

// priorViewsInSQL is priorViewsSQL on the partitions named in %s (a UNION
// ALL of their views, priorViewsFrom), with a third column: whether events
// has, in this statement's snapshot, exactly the partitions of oids $7.
const priorViewsInSQL = `SELECT x.seen, x.dup,
		(SELECT array_agg(inhrelid::int8 ORDER BY inhrelid::int8) FROM pg_inherits WHERE inhparent = 'events'::regclass) = $7::int8[]
	FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS v(ext_id, case_id, look_from, look_to, n)
	CROSS JOIN LATERAL (SELECT count(*) > 0 AS seen, coalesce(bool_or(e.case_id = v.case_id), false) AS dup
		FROM (%s) e WHERE e.ext_id = v.ext_id
			AND e.created_at >= v.look_from AND e.created_at < v.look_to
			AND e.created_at >= $5 AND e.created_at < $6) AS x
	ORDER BY v.n`

// priorViewsFrom is the views of the named events partitions, for
// priorViewsInSQL.
func priorViewsFrom(names []string) string {
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT ext_id, case_id, created_at FROM ")
		b.WriteString(pgx.Identifier{name}.Sanitize())
		b.WriteString(" WHERE type = 'view'")
	}
	return b.String()
}

// lookUpPriorViews opens the group's transaction, takes its locks and
// answers the look-up for every view: the first round trip (a second one
// only when the partitions changed since they were read).
func (s *Store) lookUpPriorViews(ctx context.Context, conn *pgx.Conn, vs []ViewWrite, ws []window) ([]prior, error) {
	n := len(vs)
	extID, caseID, from, to := make([]string, n), make([]string, n), make([]time.Time, n), make([]time.Time, n)
	lo, hi := ws[0].from, ws[0].to
	for i, v := range vs {
		extID[i], caseID[i], from[i], to[i] = v.Event.ExtID, v.Event.CaseID, ws[i].from, ws[i].to
		lo, hi = minTime(lo, ws[i].from), maxTime(hi, ws[i].to)
	}
	args := []any{extID, caseID, from, to, lo, hi}
	list := s.partitionsOf(ctx, "events")
	names := list.overlapping(lo, hi)
	named := len(list.oids) > 0 && len(names) > 0

	batch := &pgx.Batch{}
	batch.Queue(`BEGIN`)
	if named {
		// Neither statement then reads a partitioned parent.
		for _, set := range namedPlanSettings {
			batch.Queue(set)
		}
	}
	batch.Queue(lockEventsSQL, eventLockClass, extID)
	leading, trailing := batch.Len(), 0
	if named {
		batch.Queue(fmt.Sprintf(priorViewsInSQL, priorViewsFrom(names)), append(args, list.oids)...)
		// The rest of the transaction plans as if they had not been set
		// (plan_cache_mode aside: the insert sets its own).
		for _, set := range joinSettingsBack {
			batch.Queue(set)
		}
		trailing = len(joinSettingsBack)
	} else {
		batch.Queue(priorViewsSQL, args...)
	}
	out, current, err := sendPriorViews(conn.SendBatch(ctx, batch), leading, trailing, n, named)
	if err != nil || !named {
		return out, err
	}
	if current {
		s.parts.named.Add(1)
		return out, nil
	}
	// The partitions changed: read them again next time, and look on the
	// parent now, still under the locks.
	s.parts.forget("events")
	batch = &pgx.Batch{}
	batch.Queue(`SET LOCAL plan_cache_mode = force_custom_plan`)
	batch.Queue(priorViewsSQL, args...)
	out, _, err = sendPriorViews(conn.SendBatch(ctx, batch), 1, 0, n, false)
	return out, err
}

// sendPriorViews reads the answers of a look-up batch: leading statements
// executed, the look-up's rows (one per view), trailing statements
// executed; current is whether the partitions named were all there are
// (named only).
func sendPriorViews(br pgx.BatchResults, leading, trailing, n int, named bool) (out []prior, current bool, err error) {
	defer func() {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}()
	for range leading {
		if _, err = br.Exec(); err != nil {
			return nil, false, err
		}
	}
	if out, current, err = scanPriorViews(br, n, named); err != nil {
		return nil, false, err
	}
	for range trailing {
		if _, err = br.Exec(); err != nil {
			return nil, false, err
		}
	}
	return out, current, nil
}

// scanPriorViews reads the look-up's rows, one per view.
func scanPriorViews(br pgx.BatchResults, n int, named bool) (out []prior, current bool, err error) {
	rows, err := br.Query()
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out = make([]prior, 0, n)
	current = true
	for rows.Next() {
		var p prior
		if named {
			var same *bool
			if err := rows.Scan(&p.seen, &p.dup, &same); err != nil {
				return nil, false, err
			}
			current = current && same != nil && *same
		} else if err := rows.Scan(&p.seen, &p.dup); err != nil {
			return nil, false, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(out) != n {
		return nil, false, fmt.Errorf("%d look-ups for %d views", len(out), n)
	}
	return out, current, nil
}
