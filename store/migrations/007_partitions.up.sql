-- A month of real traffic: auctions, events and outbox become time-partitioned
-- (PARTITION BY RANGE (created_at)), so that retention drops whole partitions
-- instead of deleting rows, and every hot or operator query names the time
-- it is about (partition pruning).
--
-- Conversion. Each table is renamed to <name>_old and rebuilt from its own
-- definition (CREATE TABLE ... LIKE ... INCLUDING ALL): every column,
-- default, NOT NULL, CHECK and comment is carried, whatever earlier
-- migrations added. Indexes this file does not know are re-created from
-- their definitions; foreign keys to other tables are copied. Existing rows
-- are copied into one daily partition per day that has rows, and the old
-- tables are dropped. It works on an empty and on a populated database.
--
-- Partitions. <table>_default catches any row no partition covers (a test
-- clock in 2023, a clock far off), so an insert never fails for want of a
-- partition; the bridge creates partitions ahead of time (retention
-- keeper, and once at start) and moves rows out of the default when it
-- creates the partition they belong to. Partitions are recognised by their
-- bounds, never by their names (<table>_pYYYYMMDD_HHMI of the start, UTC).
--
-- Integrity: what PostgreSQL still enforces, and what the code guarantees.
-- A unique key of a partitioned table must contain the partition key, and a
-- foreign key to a partitioned table must name all of its primary key, so:
--  * auctions: PRIMARY KEY (ext_id, created_at). ext_id is globally unique
--    because it carries 128 random bits (store.NewExtID); the database only
--    enforces uniqueness per win time.
--  * events: PRIMARY KEY (id, created_at), id from its sequence;
--    UNIQUE (ext_id, case_id, type, created_at) still makes a replayed
--    spool event (same time) a no-op. That a repeated call at another time
--    changes nothing, and that exactly one view per win is billed, is
--    guaranteed by the code: every event of an ext_id is written under the
--    ext_id's advisory lock after a look-up of its earlier events
--    (store.RecordView, store.RecordClick).
--  * events.ext_id no longer REFERENCES auctions: wins are dropped after
--    retention.wins, billed events are kept for retention.events. What an
--    event needs later (the DSP, the price, the rate) is copied onto it.
--    The code only records events for wins it has just read.
--  * events.report_id REFERENCES payment_reports (id) (a plain table)
--    stays. (report_id, report_seq) is no longer UNIQUE: positions are
--    handed out under the report row's lock (store.SettleReport) and
--    checked by `bridge payments verify`.
--  * outbox: PRIMARY KEY (id, created_at). UNIQUE (ext_id, kind) and the
--    references to auctions and events are gone: a burl is enqueued only
--    together with the billed (first) view, under the same advisory lock.
--    outbox.event_at names the event's partition (event_id + event_at);
--    billed_value and billed_price_micros copy what is at risk if the burl
--    is never delivered.

DO $$
DECLARE
    t        text;
    known    text[] := ARRAY[
        'auctions_pkey', 'auctions_created_at', 'auctions_dsp_created_at',
        'events_pkey', 'events_ext_id_case_id_type_key', 'events_unsettled', 'events_report', 'events_report_seq',
        'outbox_pkey', 'outbox_ext_id_kind_key', 'outbox_due', 'outbox_dsp_status', 'outbox_pending_dsp', 'outbox_open'];
    extra    text[] := ARRAY[]::text[];
    r        record;
BEGIN
    FOREACH t IN ARRAY ARRAY['auctions', 'events', 'outbox'] LOOP
        -- Indexes added by migrations this file does not know: re-created
        -- from their definitions, which name the table, not the old one.
        FOR r IN SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS def, x.indisunique AS uniq
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = t::regclass AND NOT (i.relname = ANY (known)) LOOP
            IF r.uniq THEN
                RAISE EXCEPTION 'unique index % on % cannot be carried to a partitioned table: add created_at to it first', r.name, t;
            END IF;
            extra := extra || r.def;
        END LOOP;
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t, t || '_old');
        -- Index names are schema-wide: free them for the new table.
        FOR r IN SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 WHERE x.indrelid = (t || '_old')::regclass LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.name, left(r.name, 59) || '_old');
        END LOOP;
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL EXCLUDING INDEXES) PARTITION BY RANGE (created_at)',
            t, t || '_old');
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
        -- Sequences (bigserial ids) now belong to the new table, so that
        -- dropping the old one keeps them.
        FOR r IN SELECT a.attname AS col, pg_get_serial_sequence(t || '_old', a.attname) AS seq
                 FROM pg_attribute a WHERE a.attrelid = (t || '_old')::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP
            IF r.seq IS NOT NULL THEN
                EXECUTE format('ALTER SEQUENCE %s OWNED BY %I.%I', r.seq, t, r.col);
            END IF;
        END LOOP;
        -- Foreign keys to other tables (not among the three) are copied.
        FOR r IN SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
                 WHERE c.conrelid = (t || '_old')::regclass AND c.contype = 'f'
                   AND c.confrelid NOT IN (SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace
                       AND relname IN ('auctions', 'events', 'outbox', 'auctions_old', 'events_old', 'outbox_old')) LOOP
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', t, r.name, r.def);
        END LOOP;
    END LOOP;

    -- What an event and a notice need once the win is gone.
    ALTER TABLE events ADD COLUMN dsp text NOT NULL DEFAULT '';
    -- Why a view is not billed: '' (billed, or a click), 'repeat' (not the
    -- first view of its win), 'late' (after events.max_view_age).
    ALTER TABLE events ADD COLUMN unbilled_reason text NOT NULL DEFAULT ''
        CHECK (unbilled_reason IN ('', 'repeat', 'late'));
    ALTER TABLE outbox ADD COLUMN event_at timestamptz;
    -- What the billed view of a burl is worth (ADS clicks) and cost the DSP
    -- (micro-USD CPM), copied: the amount at risk of an undelivered burl is
    -- counted from the outbox alone, without a join into events.
    ALTER TABLE outbox ADD COLUMN billed_value bigint NOT NULL DEFAULT 0 CHECK (billed_value >= 0);
    ALTER TABLE outbox ADD COLUMN billed_price_micros bigint NOT NULL DEFAULT 0 CHECK (billed_price_micros >= 0);

    ALTER TABLE auctions ADD PRIMARY KEY (ext_id, created_at);
    ALTER TABLE events ADD PRIMARY KEY (id, created_at);
    ALTER TABLE events ADD CONSTRAINT events_ext_id_case_id_type_key UNIQUE (ext_id, case_id, type, created_at);
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'events'::regclass AND contype = 'f'
                   AND confrelid = 'payment_reports'::regclass) THEN
        ALTER TABLE events ADD FOREIGN KEY (report_id) REFERENCES payment_reports (id);
    END IF;
    ALTER TABLE outbox ADD PRIMARY KEY (id, created_at);
    FOREACH t IN ARRAY extra LOOP
        EXECUTE t;
    END LOOP;

    -- One daily partition per day that has rows, created before the copy
    -- so that rows go straight to their partition.
    FOREACH t IN ARRAY ARRAY['auctions', 'events', 'outbox'] LOOP
        FOR r IN EXECUTE format('SELECT DISTINCT date_bin(interval ''24 hours'', created_at, timestamptz ''1970-01-01 00:00:00+00'') AS d FROM %I', t || '_old') LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                t || '_p' || to_char(r.d AT TIME ZONE 'UTC', 'YYYYMMDD_HH24MI'), t, r.d, r.d + interval '24 hours');
        END LOOP;
    END LOOP;
END $$;

-- Unsettled billed views, oldest first: what settlement takes, chunk by
-- chunk, in (created_at, id) order. Repeat and late views (value 0) stay out
-- of it, so the index does not grow with them.
CREATE INDEX events_unsettled ON events (created_at, id) WHERE report_id IS NULL AND type = 'view' AND value > 0;
-- A report's rows by position: /payment-details pages by it.
CREATE INDEX events_report_seq ON events (report_id, report_seq) WHERE report_id IS NOT NULL;
-- Notices of a win (operator tools).
CREATE INDEX outbox_ext_id ON outbox (ext_id, kind);
-- Claims: per DSP, oldest due first.
CREATE INDEX outbox_pending_dsp ON outbox (dsp, next_attempt_at) WHERE status = 'pending';
-- Open notices (pending, undelivered) per DSP and time: the metrics scrape.
CREATE INDEX outbox_open ON outbox (dsp, created_at) WHERE status <> 'delivered';

-- Copy the rows, every column of the old table by name.
DO $$
DECLARE
    t    text;
    cols text;
    src  text;
BEGIN
    FOREACH t IN ARRAY ARRAY['auctions', 'events', 'outbox'] LOOP
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum), string_agg('o.' || quote_ident(attname), ', ' ORDER BY attnum)
        INTO cols, src FROM pg_attribute
        WHERE attrelid = (t || '_old')::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
        IF t = 'auctions' THEN
            EXECUTE format('INSERT INTO auctions (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM auctions_old o', cols, src);
        ELSIF t = 'events' THEN
            EXECUTE format('INSERT INTO events (%s, dsp, unbilled_reason) OVERRIDING SYSTEM VALUE
                SELECT %s, coalesce(a.dsp, ''''), CASE WHEN o.type = ''view'' AND o.value = 0 THEN ''repeat'' ELSE '''' END
                FROM events_old o LEFT JOIN auctions_old a ON a.ext_id = o.ext_id', cols, src);
        ELSE
            EXECUTE format('INSERT INTO outbox (%s, event_at, billed_value, billed_price_micros) OVERRIDING SYSTEM VALUE
                SELECT %s, e.created_at, CASE WHEN o.kind = ''burl'' THEN coalesce(e.value, 0) ELSE 0 END,
                    CASE WHEN o.kind = ''burl'' AND e.value > 0 THEN e.price_micros ELSE 0 END
                FROM outbox_old o LEFT JOIN events_old e ON e.id = o.event_id', cols, src);
        END IF;
    END LOOP;
END $$;

-- Fails (instead of silently dropping) if anything else still refers to them.
DROP TABLE outbox_old, events_old, auctions_old;

-- Settlement in chunks: a report is stamped in short transactions; these
-- hold its progress until the last one turns it done (value stays NULL
-- until then). events_from/events_to bound the created_at of its rows, so
-- that reading a report's details prunes to the partitions that hold them.
-- details_dropped_at is set when retention dropped a partition holding
-- some of its rows (only ever outside payments.window): its totals stay,
-- `payments verify` no longer recomputes it.
ALTER TABLE payment_reports ADD COLUMN stamped_views bigint NOT NULL DEFAULT 0;
ALTER TABLE payment_reports ADD COLUMN stamped_value bigint NOT NULL DEFAULT 0;
ALTER TABLE payment_reports ADD COLUMN events_from timestamptz;
ALTER TABLE payment_reports ADD COLUMN events_to timestamptz;
ALTER TABLE payment_reports ADD COLUMN details_dropped_at timestamptz;
UPDATE payment_reports r SET events_from = e.lo, events_to = e.hi, stamped_views = e.n, stamped_value = e.v
FROM (SELECT report_id, min(created_at) AS lo, max(created_at) AS hi, count(*) AS n, coalesce(sum(value), 0) AS v
      FROM events WHERE report_id IS NOT NULL GROUP BY report_id) e
WHERE e.report_id = r.id;
-- Reports by time: retention asks which reports have rows in a partition.
CREATE INDEX payment_reports_events ON payment_reports (events_from, events_to);

-- Signature nonces seen by any bridge sharing this database: a signed
-- request replayed to another instance is refused too.
CREATE TABLE auth_nonces (
    nonce   bytea PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_nonces_seen_at ON auth_nonces (seen_at);
