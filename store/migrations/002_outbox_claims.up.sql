-- Outbox claims. A worker claims due notices by moving next_attempt_at
-- forward (the lease) and stamping its claim token; only the holder of the
-- token may record the outcome. A crashed worker's claims come back when the
-- lease passes.
ALTER TABLE outbox ADD COLUMN claim text NOT NULL DEFAULT '';

-- Claims are made per DSP (bounded per-DSP concurrency), oldest due first.
CREATE INDEX outbox_pending_dsp ON outbox (dsp, next_attempt_at) WHERE status = 'pending';
