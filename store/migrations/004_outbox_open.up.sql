-- Notices not yet delivered, per DSP: what metrics scrape every few seconds.
-- Delivered notices pile up forever; this index keeps that scrape
-- proportional to the open notices only.
CREATE INDEX outbox_open ON outbox (dsp) WHERE status <> 'delivered';
