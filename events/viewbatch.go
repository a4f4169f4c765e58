package events

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adshares/dsp-bridge/internal/groupcommit"
	"github.com/adshares/dsp-bridge/store"
)

// NoticeSink delivers the notices of the views' group commit straight from
// memory (the outbox worker): they are inserted under its lease, and handed
// to it once committed, with the time before the insert began.
type NoticeSink interface {
	NoticeLease() store.NoticeLease
	Deliver(since time.Time, notices []store.Notice)
}

// DefaultBatchSize is how many views share one transaction at most
// (events.batch_size).
const DefaultBatchSize = 128

// viewCommitters is how many groups of views are in flight at once: while
// one group commits (its fsync), the next looks up its wins and writes, so
// the database's latency is paid once per two groups rather than once per
// group. Two groups that share an ext_id serialise on its lock.
const viewCommitters = 2

// storeLive stores an event the AdServer just reported: a view through the
// group commit (many concurrent views, one transaction), a click directly.
func (m *Module) storeLive(ctx context.Context, rec Record) (stored, error) {
	if rec.Type == View {
		if b := m.viewBatcher(); b != nil {
			st, err := b.Do(ctx, rec)
			if !errors.Is(err, groupcommit.ErrClosed) {
				return st, err
			}
		}
	}
	return m.store(ctx, rec)
}

// viewBatcher is the views' group commit, started on first use; nil once
// the module is closed (views are then stored one by one).
func (m *Module) viewBatcher() *groupcommit.Batcher[Record, stored] {
	m.viewsMu.Lock()
	defer m.viewsMu.Unlock()
	if m.views == nil && !m.viewsClosed {
		size := m.BatchSize
		if size <= 0 {
			size = DefaultBatchSize
		}
		m.views = groupcommit.New(size, 4*size, viewCommitters, m.commitViews)
	}
	return m.views
}

// closeViews commits the views still queued and stops the group commit.
func (m *Module) closeViews() {
	m.viewsMu.Lock()
	b := m.views
	m.views, m.viewsClosed = nil, true
	m.viewsMu.Unlock()
	if b != nil {
		b.Close()
	}
}

// commitViews stores a group of views like store does one: their wins in
// one look-up, the views and their notices in one transaction. If the
// database refuses the group, each view is tried alone, so that one bad
// view fails alone; if the database is unreachable every view gets the
// error (and goes to the spool). Never a result without a commit.
func (m *Module) commitViews(calls []*groupcommit.Call[Record, stored]) {
	ctx, cancel := context.WithTimeout(context.Background(), m.DBTimeout)
	defer cancel()
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.In.ExtID
	}
	wins, err := m.Store.GetAuctions(ctx, ids)
	if err != nil {
		for _, c := range calls {
			c.Err = err
		}
		return
	}
	var (
		writes []store.ViewWrite
		owners []*groupcommit.Call[Record, stored]
	)
	for _, c := range calls {
		a := wins[c.In.ExtID]
		if a == nil {
			c.Err = m.unknown(c.In)
			continue
		}
		ev, err := m.event(c.In, a)
		if err != nil {
			c.Err = err
			continue
		}
		c.Out = stored{win: a, late: ev.Late}
		writes = append(writes, m.viewWrite(a, ev))
		owners = append(owners, c)
	}
	if len(writes) == 0 {
		return
	}
	notify := false
	var lease store.NoticeLease
	if m.Notices != nil {
		lease = m.Notices.NoticeLease()
	}
	since := time.Now()
	res, err := m.Store.RecordViewsLeased(ctx, writes, lease)
	switch {
	case err == nil:
		var direct []store.Notice
		for i, c := range owners {
			notify = m.recorded(c.Out.win, writes[i], res[i]) || notify
			if lease.Token != "" {
				direct = append(direct, writes[i].LeasedNotices(res[i], lease.Token)...)
			}
		}
		if lease.Token != "" {
			// Committed and claimed: delivered from memory, no wake-up.
			m.Notices.Deliver(since, direct)
			notify = false
		}
	case refusedByDatabase(err) && len(writes) > 1:
		m.Log.Warn("views refused as a group, storing them one by one", "views", len(writes), "error", err)
		for i, c := range owners {
			w := writes[i]
			one, cancel := context.WithTimeout(context.Background(), m.DBTimeout)
			r, err := m.Store.RecordView(one, w.Event, w.DSP, w.BURL, w.Impressions...)
			cancel()
			if err != nil {
				c.Err = err
				continue
			}
			notify = m.recorded(c.Out.win, w, r) || notify
		}
	default:
		for _, c := range owners {
			c.Err = err
		}
	}
	if notify && m.Notify != nil {
		m.Notify()
	}
}

// refusedByDatabase reports whether the database answered err about the
// statement itself (bad data, a constraint, a conflict), not about being
// unreachable, shutting down or out of resources: then each view alone may
// still be stored.
func refusedByDatabase(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "08", "53", "57", "58":
		return false
	}
	return true
}
