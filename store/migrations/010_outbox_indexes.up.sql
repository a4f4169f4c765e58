-- Fewer index entries per notice (issue 14). Every burl and impression
-- pixel is a row inserted with its billed view and updated once with its
-- outcome; each index that takes the row is another entry (and its WAL) at
-- the insert and again at every update that changes an indexed column or
-- the status the partial indexes name (no HOT update then).
--
--  * outbox_pending_dsp (dsp, next_attempt_at) WHERE status = 'pending'
--    and outbox_open (dsp, created_at) WHERE status <> 'delivered' become
--    one index, outbox_open_due (dsp, status, next_attempt_at) WHERE
--    status <> 'delivered': claims read it per DSP and status 'pending',
--    oldest due first; the metrics scrape, the backlog and the loose scan of
--    DSPs with pending notices read its open rows. A notice has one entry
--    while it is open and none once delivered.
--  * outbox_ext_id (ext_id, kind) becomes outbox_nurl (ext_id) WHERE kind =
--    'nurl': only win notices are looked up by ext_id on a hot path
--    (releasing, cancelling and enqueueing a win's nurl, under its lock);
--    burls and pixels are looked up by id and time, and the operator's and
--    tests' notices of one win (store.NoticesOf) may scan.
--
-- Plain CREATE INDEX on the partitioned table builds the index on every
-- partition (and partitions made later get it): it works on a populated
-- database, holding the outbox's write lock while it builds.
DROP INDEX IF EXISTS outbox_pending_dsp;
DROP INDEX IF EXISTS outbox_open;
DROP INDEX IF EXISTS outbox_ext_id;
CREATE INDEX outbox_open_due ON outbox (dsp, status, next_attempt_at) WHERE status <> 'delivered';
CREATE INDEX outbox_nurl ON outbox (ext_id) WHERE kind = 'nurl';
