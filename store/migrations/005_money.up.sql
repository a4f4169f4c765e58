-- The operator's money: the fee kept from every billed view, the bid
-- adjustment of every win and the ADS/USD rates fetched from the rate feed.
-- Plain column additions and one new table: nothing here depends on how
-- events or auctions are laid out (or partitioned).

-- The operator's fee (money.fee) in parts per million, stored with every
-- event like its rate, so that changing the fee never changes the past:
-- value = floor(price_micros * (1e6 - fee_ppm) * 1e5 / rate_nanos).
ALTER TABLE events ADD COLUMN fee_ppm bigint NOT NULL DEFAULT 0
    CHECK (fee_ppm >= 0 AND fee_ppm < 1000000);

-- The multiplier (dsps[].bid_adjustment, parts per million; 1e6 = none)
-- applied to the DSP's price before the auction compared it. price_micros
-- is the adjusted price; bid_price keeps what the DSP sent.
ALTER TABLE auctions ADD COLUMN bid_adjustment_ppm bigint NOT NULL DEFAULT 1000000
    CHECK (bid_adjustment_ppm > 0);

-- Every rate fetched from money.rate_url. The newest row is the rate views
-- are valued at; the bridge starts from it after a restart.
CREATE TABLE ads_rates (
    id         bigserial PRIMARY KEY,
    fetched_at timestamptz NOT NULL,                       -- when the feed answered
    rate_nanos bigint NOT NULL CHECK (rate_nanos > 0),     -- nano-USD per ADS, as used
    rate_text  text NOT NULL,                              -- the feed's number as sent
    asked_for  timestamptz NOT NULL,                       -- the time in the request path
    source     text NOT NULL DEFAULT ''                    -- the URL asked
);
CREATE INDEX ads_rates_fetched_at ON ads_rates (fetched_at);
