-- The event log partitioned by the year its stream names (ADR 0008, docs/ledger.md "Partitions").
--
-- Every stream id of this service ends in its year: "<psn_no>/<year>", "inst/<code>/<year>",
-- "region/<admdvs>/<year>". ledger_stream_year reads it; a stream id that does not end in
-- "/<four digits>" belongs to year 0, a partition that is never detached. The partition key is
-- that expression, not a column: a generated column cannot be a partition key, and a plain
-- column would have every writer (and every raw INSERT) supply what the stream id already says.
--
-- PostgreSQL cannot put a unique constraint on a table partitioned by an expression, so each
-- year's partition carries its own unique indexes (ledger_add_year). What that keeps:
-- - (stream_id, version): unique everywhere — a stream's year is a function of its id, so a
--   stream lives in exactly one partition;
-- - event_id: unique within a year. Ids derive from the request key, and a request's events go
--   to the streams of its own year, so a retry lands in the partition that refuses it;
-- - position: unique within a year; across years, only the writer's own transaction could
--   repeat one of its positions (the trigger ties a position to the inserting transaction).
--   ledger_read_all never splits equal positions between two pages (FETCH … WITH TIES), so a
--   follower still reads every event.
--
-- An existing log is copied into the new table (triggers off during the copy, so rows written
-- before 0006 keep their v1 hashes and their positions), counted, and the old table dropped.
-- Writers wait for the migration (it holds the old table exclusively); docs/ledger.md gives
-- the time it took per million events.

CREATE FUNCTION ledger_stream_year(stream_id text) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN stream_id ~ '/[0-9]{4}$' THEN right(stream_id, 4)::smallint ELSE 0::smallint END
$$;

LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
DROP FUNCTION ledger_read_all(bigint, integer);  -- returns SETOF events: made again below
ALTER TABLE events RENAME TO events_before_partitions;

CREATE TABLE events (
    position    bigint      NOT NULL CHECK (position > 0),
    stream_id   text        COLLATE "C" NOT NULL CHECK (stream_id <> ''),
    version     integer     NOT NULL CHECK (version >= 1),
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL CHECK (event_type <> ''),
    data        jsonb       NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    hash_alg    smallint    NOT NULL DEFAULT 2
) PARTITION BY LIST (ledger_stream_year(stream_id));

-- Years taken out of the live log (ledger_detach_year): what they held, so verify can say what
-- it did not check and check a restored copy against it.
CREATE TABLE archived_years (
    year         smallint    PRIMARY KEY,
    partition    text        NOT NULL,
    events       bigint      NOT NULL,
    streams      bigint      NOT NULL,
    heads_digest text        NOT NULL,  -- ledger_heads_digest of the year at detach time
    detached_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON archived_years TO ledger_app;

-- One year's partition with its unique indexes and its own append-only trigger (the parent's
-- statement trigger does not fire for a statement naming the partition, which only the owner
-- may do: ledger_app has no privilege on partitions). Idempotent, and safe to call at once
-- from several writers (an advisory lock, then a fresh look). SECURITY DEFINER and executable
-- by ledger_app, so the store can open a year the first time it writes to it — never an
-- archived one: a closed year takes no more events.
CREATE FUNCTION ledger_add_year(year smallint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    name text := 'events_y' || year;
BEGIN
    IF year < 0 OR year > 9999 THEN
        RAISE EXCEPTION 'ledger: no partition for year %', year;
    END IF;
    IF EXISTS (SELECT FROM archived_years a WHERE a.year = ledger_add_year.year) THEN
        RAISE EXCEPTION 'ledger: year % is archived and takes no more events', year;
    END IF;
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(7312020, 9);  -- "ledger partitions"
    -- A catalog scan under this statement's snapshot, not to_regclass's cache: a writer that
    -- held the lock before us has committed the partition.
    IF EXISTS (SELECT FROM pg_class c WHERE c.relname = name AND c.relnamespace = current_schema()::regnamespace) THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES IN (%s)', name, year);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (stream_id, version)', name, name || '_stream_version');
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (position)', name, name || '_position');
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (event_id)', name, name || '_event_id');
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()', name || '_append_only', name);
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION ledger_add_year(smallint) SET search_path = %I, pg_temp', current_schema());
END
$$;
REVOKE ALL ON FUNCTION ledger_add_year(smallint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_add_year(smallint) TO ledger_app;

-- The years already written, this year and the next (the store makes any other on its first
-- write to it, once per process: PostgresLedger._open_years).
SELECT ledger_add_year(y::smallint) FROM (
    SELECT DISTINCT ledger_stream_year(stream_id) AS y FROM events_before_partitions
    UNION SELECT extract(year FROM now())::smallint UNION SELECT extract(year FROM now())::smallint + 1
) AS years;

INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, recorded_at, prev_hash,
                    hash, hash_alg)
SELECT position, stream_id, version, event_id, event_type, data, occurred_at, recorded_at, prev_hash, hash, hash_alg
  FROM events_before_partitions;

DO $$
DECLARE
    before bigint := (SELECT count(*) FROM events_before_partitions);
    after bigint := (SELECT count(*) FROM events);
BEGIN
    IF before <> after THEN
        RAISE EXCEPTION 'ledger: copying the log into partitions gave % events, not %', after, before;
    END IF;
END
$$;

DROP TABLE events_before_partitions;

-- 0006's checks, the predecessor looked up in its own year's partition only.
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
         WHERE e.stream_id = NEW.stream_id AND e.version = NEW.version - 1
           AND ledger_stream_year(e.stream_id) = ledger_stream_year(NEW.stream_id);
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

CREATE TRIGGER events_check BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION ledger_check_event();
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- 0004's page of the log, never ending a page between two events of one position.
CREATE FUNCTION ledger_read_all(after bigint, page integer) RETURNS SETOF events
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    watermark bigint := ledger_watermark();
BEGIN
    RETURN QUERY SELECT * FROM events e
                  WHERE e.position > after AND e.position < watermark
                  ORDER BY e.position FETCH FIRST page ROWS WITH TIES;
END
$$;

GRANT SELECT, INSERT ON events TO ledger_app;


-- sha256 over every stream head of a table of events, one line "<stream_id> <version> <hash>\n"
-- per stream in bytewise order: what a restored dump of a detached year must reproduce.
CREATE FUNCTION ledger_heads_digest(tab regclass) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    digest text;
BEGIN
    EXECUTE format(
        'SELECT encode(sha256(convert_to(coalesce(string_agg(h.line, '''' ORDER BY h.stream_id), ''''), ''UTF8'')), ''hex'')
           FROM (SELECT DISTINCT ON (stream_id) stream_id, stream_id || '' '' || version || '' '' || hash || E''\n'' AS line
                   FROM %s ORDER BY stream_id, version DESC) AS h', tab)
      INTO digest;
    RETURN digest;
END
$$;

-- Take a closed year out of the live log: its partition becomes a table of its own (dump it,
-- keep the dump, then drop the table), recorded in archived_years. Refused while an
-- idempotency row still names one of its events (a retry of the year could still be answered
-- from it; prune first). Only the schema owner may run it.
CREATE FUNCTION ledger_detach_year(year smallint) RETURNS archived_years
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'events_y' || year;
    row archived_years;
    named bigint;
BEGIN
    IF to_regclass(name) IS NULL OR NOT EXISTS (
        SELECT FROM pg_inherits WHERE inhrelid = to_regclass(name) AND inhparent = 'events'::regclass) THEN
        RAISE EXCEPTION 'ledger: year % is not a partition of the live log', year;
    END IF;
    IF year = 0 THEN
        RAISE EXCEPTION 'ledger: year 0 holds the streams without a year and is never detached';
    END IF;
    EXECUTE format('SELECT count(*) FROM idempotency r JOIN %I e ON e.position = r.first_position', name) INTO named;
    IF named > 0 THEN
        RAISE EXCEPTION 'ledger: % idempotency row(s) still name events of year %', named, year
            USING HINT = 'ledger prune removes them once past the horizon (docs/ledger.md, "Retention")';
    END IF;
    EXECUTE format('SELECT count(*), count(DISTINCT stream_id) FROM %I', name) INTO row.events, row.streams;
    row.year := year;
    row.partition := name;
    row.heads_digest := ledger_heads_digest(name::regclass);
    row.detached_at := now();
    EXECUTE format('ALTER TABLE events DETACH PARTITION %I', name);
    INSERT INTO archived_years VALUES (row.*);
    RETURN row;
END
$$;
REVOKE ALL ON FUNCTION ledger_detach_year(smallint) FROM PUBLIC;

ANALYZE events;
