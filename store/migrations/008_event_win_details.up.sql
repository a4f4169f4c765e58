-- What a billed view's books need from its win, copied onto the event like
-- its DSP and price (migration 007): wins are dropped after retention.wins,
-- billed events are kept for retention.events, and operator queries must
-- not join the two tables (a join cannot prune both sides' partitions).
--  * bid_adjustment_ppm: the DSP's bid adjustment behind price_micros
--    (bridge payments dsps shows the range).
--  * bid_price, bid_currency: the price as the DSP sent it, in its own
--    currency (bridge payments reconcile compares what the DSP counts).
ALTER TABLE events ADD COLUMN bid_adjustment_ppm bigint NOT NULL DEFAULT 1000000 CHECK (bid_adjustment_ppm > 0);
ALTER TABLE events ADD COLUMN bid_price text NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN bid_currency text NOT NULL DEFAULT '';

-- Events recorded before this migration: copy from their wins while those
-- are still kept.
UPDATE events e SET bid_adjustment_ppm = a.bid_adjustment_ppm, bid_price = a.bid_price, bid_currency = a.bid_currency
FROM auctions a WHERE a.ext_id = e.ext_id;
