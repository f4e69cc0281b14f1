-- The database checks each event's own hash, not only its link (ADR 0005, docs/ledger.md).
--
-- Until now the insert trigger checked that prev_hash is the previous event's hash, but took
-- the event's own hash on trust: a writer with INSERT (the application role) could append an
-- event whose content its hash does not describe, or whose v1 hash it had computed itself.
-- v1 hashes sha256 over Python's compact JSON, which PostgreSQL cannot rebuild from jsonb.
-- v2 hashes the text PostgreSQL itself prints for a jsonb object built from the row, so the
-- trigger can recompute it; Python writes the same bytes (ledger.hashing.jsonb_text).
--
-- Existing rows keep hash_alg 1 and still verify (ledger verify recomputes either algorithm);
-- ADD COLUMN with a constant default rewrites nothing. Every new row must be v2.

ALTER TABLE events ADD COLUMN hash_alg smallint NOT NULL DEFAULT 1;
ALTER TABLE events ALTER COLUMN hash_alg SET DEFAULT 2;

-- v2: sha256 of jsonb_build_object(...)::text. jsonb's text output is deterministic (keys by
-- length then bytes, ", " and ": " separators, only '"', '\' and control characters escaped).
-- occurred_at is written as Python's isoformat in UTC with microseconds.
CREATE FUNCTION ledger_event_hash_v2(
    stream_id text, version integer, event_id uuid, event_type text, data jsonb,
    occurred_at timestamptz, prev_hash text
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(jsonb_build_object(
        'data', data,
        'event_id', event_id::text,
        'event_type', event_type,
        'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
        'prev_hash', prev_hash,
        'stream_id', stream_id,
        'version', version)::text, 'UTF8')), 'hex')
$$;

-- 0001's checks, plus: the row names algorithm 2, its time is one every reader can represent,
-- and its hash is the one recomputed from the row. Replaces 0001's function in place (the
-- trigger events_check keeps calling it by name).
CREATE OR REPLACE FUNCTION ledger_check_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous text;
BEGIN
    IF NEW.position >> 16 <> pg_current_xact_id()::text::bigint THEN
        RAISE EXCEPTION 'ledger: position % does not belong to this transaction', NEW.position;
    END IF;
    IF NEW.hash_alg IS DISTINCT FROM 2 THEN
        RAISE EXCEPTION 'ledger: event % of stream % names hash algorithm %; new events must use 2',
            NEW.version, NEW.stream_id, NEW.hash_alg;
    END IF;
    IF NOT (NEW.occurred_at >= '0001-01-01 00:00:00+00' AND NEW.occurred_at < '10000-01-01 00:00:00+00') THEN
        RAISE EXCEPTION 'ledger: event % of stream % occurred at %, outside years 1 to 9999',
            NEW.version, NEW.stream_id, NEW.occurred_at;
    END IF;
    IF NEW.version = 1 THEN
        previous := repeat('0', 64);
    ELSE
        SELECT e.hash INTO previous FROM events e
         WHERE e.stream_id = NEW.stream_id AND e.version = NEW.version - 1;
    END IF;
    IF previous IS DISTINCT FROM NEW.prev_hash THEN
        RAISE EXCEPTION 'ledger: event % of stream % does not follow version %''s hash',
            NEW.version, NEW.stream_id, NEW.version - 1;
    END IF;
    IF NEW.hash IS DISTINCT FROM ledger_event_hash_v2(NEW.stream_id, NEW.version, NEW.event_id,
            NEW.event_type, NEW.data, NEW.occurred_at, NEW.prev_hash) THEN
        RAISE EXCEPTION 'ledger: event % of stream %: its hash does not match its content',
            NEW.version, NEW.stream_id
            USING HINT = 'hash must be sha256 of the row''s v2 document (docs/ledger.md, "The hash chain")';
    END IF;
    NEW.recorded_at := statement_timestamp();
    RETURN NEW;
END
$$;
