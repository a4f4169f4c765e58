-- Creatives from DSP markup (issue 11): what the bridge needs to deliver a
-- bid whose creative is in adm (image markup, VAST) rather than the body of
-- its nurl. Only new tables, new columns and constraint changes: nothing
-- here rewrites an existing row.

-- The bytes of creatives served from public_listen (creatives.delivery:
-- public), stored once per distinct content: a DSP bids the same image in
-- thousands of auctions. Wins reference a row by its SHA-256 (no foreign
-- key, so that neither side's retention has to scan the other). A row is
-- touched (last_used_at) when a win uses it; rows no win of the last
-- creatives.public_ttl can use are deleted.
CREATE TABLE creatives (
    sha256       bytea PRIMARY KEY CHECK (length(sha256) = 32),
    content_type text NOT NULL,                -- sniffed from the bytes
    bytes        bytea NOT NULL CHECK (length(bytes) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX creatives_last_used_at ON creatives (last_used_at);

-- How each win's creative reached the browser, and what it needs later.
ALTER TABLE auctions
    ADD COLUMN delivery        text NOT NULL DEFAULT '',     -- nurl, inline, public, direct ('' before this migration)
    ADD COLUMN creative_path   text NOT NULL DEFAULT '',     -- markup_image, vast, nurl
    ADD COLUMN serve_token     text NOT NULL DEFAULT '',     -- public: the unguessable /c/{token}
    ADD COLUMN creative_sha256 bytea,                        -- public: the creatives row
    ADD COLUMN impression_urls text[] NOT NULL DEFAULT '{}'; -- markup pixels / VAST Impressions, fired with the burl
CREATE INDEX auctions_serve_token ON auctions (serve_token) WHERE serve_token <> '';

-- Impression notices: a markup bid has several pixels, each its own outbox
-- row of kind 'imp', numbered by seq (1..n); nurl and burl keep seq 0. The
-- outbox is partitioned (migration 007), so no unique key can hold
-- (ext_id, kind, seq) alone: impression notices are enqueued only with the
-- billed view, and a public win's nurl only under the ext_id's advisory
-- lock after a look-up in its partitions (store.RecordView,
-- store.EnqueueWinNotice), like the burl.
ALTER TABLE outbox ADD COLUMN seq integer NOT NULL DEFAULT 0 CHECK (seq >= 0);
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('nurl', 'burl', 'imp'));

-- Rejected bids per UTC day, DSP and reason (unrenderable_markup,
-- creative_timeout, below_floor, ...), added up in memory and flushed every
-- few seconds, for `bridge payments dsps`: the operator's evidence when
-- asking a DSP for simple markup. A crash loses at most the last few
-- seconds of counts; no money depends on them.
CREATE TABLE rejection_counts (
    day    date NOT NULL,
    dsp    text NOT NULL,
    reason text NOT NULL,
    bids   bigint NOT NULL CHECK (bids >= 0),
    PRIMARY KEY (day, dsp, reason)
);
