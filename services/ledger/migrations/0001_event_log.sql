-- The append-only event log and the idempotency record: the ledger's facts.
--
-- position is the global order followers read in. It is not a sequence: it is
-- (transaction id << 16) + the event's index in its commit, so it sorts by the writing
-- transaction's id, and "every transaction below the oldest one still running has finished"
-- (pg_snapshot_xmin) tells a reader the exact point below which no event can still appear.
-- See docs/ledger.md, "Following the log without gaps".

CREATE TABLE events (
    position    bigint      PRIMARY KEY CHECK (position > 0),
    stream_id   text        COLLATE "C" NOT NULL CHECK (stream_id <> ''),
    version     integer     NOT NULL CHECK (version >= 1),
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL CHECK (event_type <> ''),
    data        jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);

CREATE TABLE idempotency (
    key            text        PRIMARY KEY CHECK (key <> ''),
    body_hash      text        NOT NULL,
    result         jsonb       NOT NULL,
    first_position bigint,     -- the request's first event, NULL when it wrote none (a rejection)
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

-- Invariants the database keeps even if the code has a bug: the position belongs to the
-- inserting transaction, versions follow each other, each event links to its predecessor's
-- hash, and the recording time is the database's, not the caller's.
CREATE FUNCTION ledger_check_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous text;
BEGIN
    IF NEW.position >> 16 <> pg_current_xact_id()::text::bigint THEN
        RAISE EXCEPTION 'ledger: position % does not belong to this transaction', NEW.position;
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
    -- The INSERT statement's start, not the transaction's: a writer inserts only after it has
    -- seen the previous version committed, so within a stream recorded_at never goes back.
    NEW.recorded_at := statement_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER events_check BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_check_event();

-- Append-only, enforced here and not only in code: statement-level, so even an UPDATE or
-- DELETE that matches no row is refused, and TRUNCATE (which skips row triggers) too.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING HINT = 'Mistakes are corrected by appending a correcting event, never by editing.';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER idempotency_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON idempotency
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
