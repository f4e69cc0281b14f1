-- State derived from the log (rewritable) and messages waiting for Kafka.

-- The inline projection: one row per stream, written in the same transaction as its events,
-- so it is never behind the stream it summarises.
CREATE TABLE person_year_totals (
    stream_id text        COLLATE "C" PRIMARY KEY,
    version   integer     NOT NULL CHECK (version >= 1),
    totals    jsonb       NOT NULL CHECK (jsonb_typeof(totals) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Replies to publish, written with the events that caused them (transactional outbox).
-- position uses the same (transaction id << 16) + index scheme as events.position.
CREATE TABLE outbox (
    message_id   uuid        PRIMARY KEY,
    position     bigint      NOT NULL UNIQUE CHECK (position > 0),
    topic        text        NOT NULL CHECK (topic <> ''),
    key          text        NOT NULL,
    value        bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL;

-- Where each follower projection has got to in the global log.
CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY CHECK (name <> ''),
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
