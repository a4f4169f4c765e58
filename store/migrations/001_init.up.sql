-- The bridge's schema. Money is always an integer: micro-USD (1e-6 USD) for
-- DSP prices (CPM), ADS clicks (1e-11 ADS) for what the AdServer is paid.

-- Small key/value facts the bridge must remember across restarts
-- (for example the first start, the default campaign date_start).
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per won slot: the winning bid, stored before /bid answers so that
-- any later view can be billed.
CREATE TABLE auctions (
    ext_id        text PRIMARY KEY CHECK (ext_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    auction_id    text NOT NULL,              -- OpenRTB BidRequest.id
    request_id    text NOT NULL,              -- AdServer slot id = imp.id
    creative_id   text NOT NULL,              -- inventory creative (32 hex)
    dsp           text NOT NULL,              -- DSP name from config
    seat          text NOT NULL DEFAULT '',
    bid_id        text NOT NULL DEFAULT '',
    ad_id         text NOT NULL DEFAULT '',
    price_micros  bigint NOT NULL CHECK (price_micros > 0), -- clearing price, micro-USD CPM
    bid_currency  text NOT NULL DEFAULT 'USD', -- the DSP's currency
    bid_price     text NOT NULL DEFAULT '',    -- the price as the DSP sent it, for ${AUCTION_PRICE}
    nurl          text NOT NULL DEFAULT '',
    burl          text NOT NULL DEFAULT '',
    click_url     text NOT NULL DEFAULT '',    -- click-through URL, if the bid gave one
    adomain       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auctions_created_at ON auctions (created_at);
CREATE INDEX auctions_dsp_created_at ON auctions (dsp, created_at);

-- Payment reports, one per period; id = unix time of the period start.
CREATE TABLE payment_reports (
    id           bigint PRIMARY KEY CHECK (id >= 0 AND id < 1000000000000000000), -- at most 18 digits
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    status       text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'done')),
    value        bigint CHECK (value >= 0),   -- ADS clicks; NULL while processing
    views        bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'done' OR value IS NOT NULL)
);

-- Events the AdServer reported (view, click) or that the bridge saw (serve).
-- (ext_id, case_id, type) is unique: a repeated call changes nothing.
CREATE TABLE events (
    id             bigserial PRIMARY KEY,
    ext_id         text NOT NULL REFERENCES auctions (ext_id),
    case_id        text NOT NULL CHECK (case_id ~ '^[0-9a-f]{32}$'),
    type           text NOT NULL CHECK (type IN ('serve', 'view', 'click')),
    impression_id  text NOT NULL DEFAULT '',
    zone_id        text NOT NULL DEFAULT '',
    publisher_id   text NOT NULL DEFAULT '',
    price_micros   bigint NOT NULL DEFAULT 0 CHECK (price_micros >= 0), -- the win's price, copied
    rate_nanos     bigint NOT NULL DEFAULT 0 CHECK (rate_nanos >= 0),   -- nano-USD per ADS used
    value          bigint NOT NULL DEFAULT 0 CHECK (value >= 0),        -- ADS clicks billed
    report_id      bigint REFERENCES payment_reports (id),              -- set when settled
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ext_id, case_id, type)
);
CREATE INDEX events_unsettled ON events (created_at) WHERE report_id IS NULL AND type = 'view';
CREATE INDEX events_report ON events (report_id, id) WHERE report_id IS NOT NULL;

-- Notices to DSPs (nurl, burl), written in the same transaction as their
-- event and delivered by the outbox worker.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    ext_id          text NOT NULL REFERENCES auctions (ext_id),
    event_id        bigint REFERENCES events (id),
    dsp             text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('nurl', 'burl')),
    url             text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'undelivered')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     int,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (ext_id, kind)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_dsp_status ON outbox (dsp, status);
