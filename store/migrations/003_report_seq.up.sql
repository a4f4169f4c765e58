-- Position of a billed view inside its payment report (1..views), set when
-- the report is settled. /payment-details pages by it, so a page costs the
-- same at offset 1 000 000 as at offset 0 (OFFSET would scan every row before).
ALTER TABLE events ADD COLUMN report_seq bigint;
CREATE UNIQUE INDEX events_report_seq ON events (report_id, report_seq) WHERE report_id IS NOT NULL;
