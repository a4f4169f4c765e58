package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Run replays the spool into PostgreSQL whenever it holds events and the
// database answers, until ctx is cancelled. It also replays what a previous
// process left in the spool when it crashed.
func (m *Module) Run(ctx context.Context) error {
	if m.Spool == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(m.ReplayEvery)
	defer t.Stop()
	for {
		if _, err := m.ReplayOnce(ctx); err != nil && ctx.Err() == nil {
			m.Log.Warn("spool replay paused", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ReplayOnce moves every spooled event into PostgreSQL, if it is reachable,
// and returns how many it handled. Events whose ext_id is unknown are
// dropped with a warning (the AdServer got 204 because the database could
// not be asked); events the database refuses for another reason go to the
// spool's rejected.jsonl.
func (m *Module) ReplayOnce(ctx context.Context) (int, error) {
	if m.Spool == nil {
		return 0, nil
	}
	st, err := m.Spool.State()
	if err != nil || st.Segments == 0 {
		return 0, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, m.DBTimeout)
	err = m.Store.Ping(pingCtx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("database still unreachable: %w", err)
	}
	n, err := m.Spool.Replay(func(rec Record) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", errStopReplay, ctx.Err())
		}
		dbctx, cancel := context.WithTimeout(ctx, m.DBTimeout)
		defer cancel()
		_, err := m.store(dbctx, rec)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errUnknownExtID):
			m.Log.Warn("spooled event for an unknown extid dropped", "type", rec.Type, "ext_id", rec.ExtID, "case_id", rec.CaseID)
			return nil
		case permanent(err):
			m.Log.Error("spooled event refused by the database, kept in rejected.jsonl", "ext_id", rec.ExtID, "error", err)
			return err
		default:
			return fmt.Errorf("%w: %w", errStopReplay, err)
		}
	})
	if n > 0 {
		m.Log.Info("spool replayed into the database", "events", n)
	}
	if err != nil {
		return n, err
	}
	m.downUntil.Store(0)
	return n, nil
}

// permanent reports whether the database refused the data itself: a data
// exception (class 22) or a violated constraint (class 23). Anything else
// (unreachable, shutting down, out of resources, a table missing during a
// bad deploy) is retried: those views were acknowledged with 204 and must
// reach the database by themselves once it is sound again.
func permanent(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "22", "23":
		return true
	}
	return false
}
