-- What identifies a winning creative, so that a dispute with a DSP or an
-- advertiser can name it: the bid's creative and campaign ids, its IAB
-- categories and creative attributes, its size and markup type, how long
-- it stays valid (exp, seconds), and whether the price came from the
-- DSP's contract (dsps[].fixed_cpm) because the bid had none. Plain ADD
-- COLUMN with constant defaults: no rewrite, and it keeps working on a
-- partitioned auctions table.
ALTER TABLE auctions ADD COLUMN crid text NOT NULL DEFAULT '';
ALTER TABLE auctions ADD COLUMN cid text NOT NULL DEFAULT '';
ALTER TABLE auctions ADD COLUMN cat text[] NOT NULL DEFAULT '{}';
ALTER TABLE auctions ADD COLUMN attr integer[] NOT NULL DEFAULT '{}';
ALTER TABLE auctions ADD COLUMN w integer NOT NULL DEFAULT 0;
ALTER TABLE auctions ADD COLUMN h integer NOT NULL DEFAULT 0;
ALTER TABLE auctions ADD COLUMN mtype smallint NOT NULL DEFAULT 0;
ALTER TABLE auctions ADD COLUMN exp integer NOT NULL DEFAULT 0;
ALTER TABLE auctions ADD COLUMN fixed_price boolean NOT NULL DEFAULT false;
