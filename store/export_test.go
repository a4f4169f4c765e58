package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Internals the external tests (package store_test) look at: the SQL of
// the queries whose plans they check, and migrating part of the way.

// MigrateTo applies the migrations up to version.
func (s *Store) MigrateTo(ctx context.Context, version int) ([]int, error) {
	return s.migrate(ctx, version)
}

// SQL texts, by the name the EXPLAIN tests use.
var (
	SQLGetAuctionNear    = getAuctionNearSQL
	SQLGetAuction        = getAuctionSQL
	SQLRecordView        = recordViewSQL
	SQLPriorViews        = priorViewsSQL
	SQLInsertViews       = insertViewsSQL
	SQLGetAuctionsNear   = getAuctionsNearSQL
	SQLGetAuctions       = getAuctionsSQL
	SQLRecordClick       = recordClickSQL
	SQLPendingDSPs       = pendingDSPsSQL
	SQLClaim             = claimSQL
	SQLRecordOutcomes    = recordOutcomesSQL
	SQLGetAuctionsIn     = getAuctionsInSQL
	SQLPriorViewsIn      = priorViewsInSQL
	PriorViewsFrom       = priorViewsFrom
	NamedPlanSettings    = namedPlanSettings
	SQLOutboxStats       = outboxStatsSQL
	SQLOpenOutbox        = openOutboxSQL
	SQLBacklog           = backlogSQL
	SQLOpenReports       = openReportsSQL
	SQLSettlePick        = settlePickSQL
	SQLSettleStamp       = settleStampSQL
	SQLReportDetails     = reportDetailsSQL
	SQLBilledViews       = billedViewsSQL
	SQLReportTotals      = reportTotalsSQL
	SQLDSPSpend          = dspSpendSQL
	SQLVerifyRows        = verifyRowsSQL
	SQLVerifyEvents      = verifyEventsSQL
	SQLCountBilled       = countBilledSQL
	SQLBilledByDay       = billedByDaySQL
	SQLCreativeByToken   = creativeByTokenSQL
	SQLReleaseWinNotices = releaseWinNoticesSQL
	SQLEnqueueWinNotice  = enqueueWinNoticeSQL
	ReportRows           = reportRows
)

// SettleOneChunk runs one settlement transaction of report id, as a bridge
// that dies right after it would leave it.
func (s *Store) SettleOneChunk(ctx context.Context, id int64, now time.Time, chunk int) (settled bool, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		settled, _, err = settleChunk(ctx, tx, id, now, chunk)
		return err
	})
	return settled, err
}

// NamedPartitionStatements counts the statements that ran on partitions by
// their names (partcache.go) and whose answer was used.
func (s *Store) NamedPartitionStatements() int64 { return s.parts.named.Load() }

// RememberPartitions makes the store believe, until partitionTTL passes,
// that table has exactly parts (and the default partition and the oids
// the catalog has now): a list gone stale.
func (s *Store) RememberPartitions(table string, parts []Partition) {
	s.parts.mu.Lock()
	defer s.parts.mu.Unlock()
	if s.parts.tables == nil {
		s.parts.tables = map[string]partitionList{}
	}
	l, err := s.loadPartitions(context.Background(), table)
	if err != nil {
		panic(err)
	}
	l.loaded, l.parts = time.Now(), parts
	s.parts.tables[table] = l
}

// CachePartitions reads table's partitions into the store's list now.
func (s *Store) CachePartitions(table string) {
	s.parts.forget(table)
	s.partitionsOf(context.Background(), table)
}

// WinBatch is the pipeline InsertAuctions sends for wins.
var WinBatch = winBatch
