"""The PostgreSQL store's statements and row mapping (the schema is in ledger/migrations)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from ledger.store import OutboxRecord, RecordedEvent, StoredRequest

# A connection of one's own or one borrowed from a pool: the statements run on either.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
_YEAR = re.compile(r"/([0-9]{4})\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

EVENT_COLUMNS = (
    "stream_id, version, position, event_id, event_type, data::text AS data, occurred_at, recorded_at, prev_hash, hash,"
    " hash_alg"
)

# The global log up to the watermark (migration 0004): below it no event can still appear, so a
# follower never moves its cursor past an event that an open transaction will commit later.
READ_ALL = f"SELECT {EVENT_COLUMNS} FROM ledger_read_all($1, $2)"

# A stream lives in its year's partition (migration 0011): naming the year lets the planner
# look in that partition only.
IN_ITS_YEAR = "ledger_stream_year(e.stream_id) = ledger_stream_year({})"

READ_STREAM = f"""
SELECT {EVENT_COLUMNS} FROM events e
 WHERE e.stream_id = $1 AND {IN_ITS_YEAR.format("$1")} AND ($2::timestamptz IS NULL OR e.recorded_at <= $2)
 ORDER BY e.version
"""

HEAD_VERSION = f"SELECT e.version FROM events e WHERE e.stream_id = $1 AND {IN_ITS_YEAR.format('$1')}"

READ_PROJECTION = f"""
SELECT coalesce(({HEAD_VERSION} ORDER BY e.version DESC LIMIT 1), 0) AS version,
       p.version AS projected, p.totals
  FROM (SELECT) AS one LEFT JOIN person_year_totals p ON p.stream_id = $1
"""

FIND_REQUEST = "SELECT key, body_hash, result::text AS result, first_position FROM idempotency WHERE key = $1"

# Everything a batch must check, in one snapshot: each stream's head (version, hash) with its
# projection's version, and the stored requests among its keys. The same statement then gives
# the transaction its id — after the snapshot was taken, so a writer that saw version n
# committed always gets a larger id, hence larger positions, than the writer of version n (log
# order = stream order). Rows: kind 0 the xid (always one), 1 a stream, 2 a stored request.
READ_FOR_BATCH = f"""
SELECT 0 AS kind, pg_current_xact_id()::text::bigint AS xid, NULL::text AS name, NULL::int AS version,
       NULL::text AS hash, NULL::int AS projected, NULL::text AS body_hash, NULL::text AS result,
       NULL::bigint AS first_position
UNION ALL
SELECT 1, NULL, s.stream_id, coalesce(h.version, 0), h.hash, p.version, NULL, NULL, NULL
  FROM unnest($1::text[]) AS s(stream_id)
  LEFT JOIN LATERAL (SELECT e.version, e.hash FROM events e
                      WHERE e.stream_id = s.stream_id AND {IN_ITS_YEAR.format("s.stream_id")}
                      ORDER BY e.version DESC LIMIT 1) h ON true
  LEFT JOIN person_year_totals p ON p.stream_id = s.stream_id
UNION ALL
SELECT 2, NULL, r.key, NULL, NULL, NULL, r.body_hash, r.result::text, r.first_position
  FROM idempotency r WHERE r.key = ANY($2::text[])
"""

# After a unique violation: which of the batch's event and message ids are already recorded.
TAKEN_IDS = """
SELECT 'event' AS kind, event_id AS id FROM events WHERE event_id = ANY($1::uuid[])
UNION ALL
SELECT 'message', message_id FROM outbox WHERE message_id = ANY($2::uuid[])
"""

# Every write of a batch in one statement (one round trip), each table set-wise from arrays.
# Events go in sorted by (stream, version), requests by key, messages by id, projections by
# stream, so concurrent batches take their unique-index locks in the same order and cannot
# deadlock.
WRITE_BATCH = """
WITH ev AS (
    INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash,
                        hash_alg)
    SELECT u.position, u.stream_id, u.version, u.event_id, u.event_type, u.data::jsonb, u.occurred_at,
           u.prev_hash, u.hash, u.hash_alg
      FROM unnest($1::bigint[], $2::text[], $3::int[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                  $8::text[], $9::text[], $10::smallint[])
           AS u(position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash, hash_alg)
     ORDER BY u.stream_id, u.version
    RETURNING 1
), rq AS (
    INSERT INTO idempotency (key, body_hash, result, first_position)
    SELECT u.key, u.body_hash, u.result::jsonb, u.first_position
      FROM unnest($11::text[], $12::text[], $13::text[], $14::bigint[]) AS u(key, body_hash, result, first_position)
     ORDER BY u.key
    RETURNING 1
), pr AS (
    INSERT INTO person_year_totals AS p (stream_id, version, totals)
    SELECT u.stream_id, u.version, u.totals
      FROM unnest($15::text[], $16::int[], $17::text[]) AS u(stream_id, version, totals)
     ORDER BY u.stream_id
        ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, totals = excluded.totals, updated_at = now()
     WHERE p.version < excluded.version
    RETURNING 1
), ob AS (
    INSERT INTO outbox (message_id, position, topic, key, value, headers)
    SELECT u.message_id, u.position, u.topic, u.key, u.value, u.headers::jsonb
      FROM unnest($18::uuid[], $19::bigint[], $20::text[], $21::text[], $22::bytea[], $23::text[])
           AS u(message_id, position, topic, key, value, headers)
     ORDER BY u.message_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM rq) AS requests,
       (SELECT count(*) FROM pr) AS projections, (SELECT count(*) FROM ob) AS messages
"""

PROJECTIONS = f"""
SELECT s.stream_id, coalesce(h.version, 0) AS version, p.version AS projected, p.totals
  FROM unnest($1::text[]) AS s(stream_id)
  LEFT JOIN LATERAL (SELECT e.version FROM events e
                      WHERE e.stream_id = s.stream_id AND {IN_ITS_YEAR.format("s.stream_id")}
                      ORDER BY e.version DESC LIMIT 1) h ON true
  LEFT JOIN person_year_totals p ON p.stream_id = s.stream_id
"""

FIND_REQUESTS = "SELECT key, body_hash, result::text AS result, first_position FROM idempotency WHERE key = ANY($1)"

# A loose index scan: one index probe per stream, not a pass over every event.
LIST_STREAMS = """
WITH RECURSIVE s(stream_id) AS (
    (SELECT stream_id FROM events WHERE stream_id >= $1 ORDER BY stream_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.stream_id FROM events e WHERE e.stream_id > s.stream_id ORDER BY e.stream_id LIMIT 1)
      FROM s WHERE s.stream_id IS NOT NULL AND starts_with(s.stream_id, $1)
)
SELECT stream_id FROM s WHERE stream_id IS NOT NULL AND starts_with(stream_id, $1)
"""


def stream_year(stream_id: str) -> int:
    """The partition of a stream (migration 0011's ledger_stream_year): the year its id ends in,
    "/<four digits>", else 0."""
    found = _YEAR.search(stream_id)
    return int(found.group(1)) if found else 0


ADD_YEAR = "SELECT ledger_add_year($1::smallint)"


def stored_request(row: asyncpg.Record) -> StoredRequest:
    return StoredRequest(row["key"], row["body_hash"], json.loads(row["result"]), row["first_position"])


def uuid_in(text: str | None) -> uuid.UUID | None:
    """The id a unique-violation detail names ("Key (event_id)=(…) already exists.")."""
    found = _UUID.search(text or "")
    return uuid.UUID(found.group()) if found else None


# A number of 19 digits or more where a JSON number can begin (not inside a string: the national
# gateway's visit and settlement ids are 20 and 22 digits): an integer orjson may read as a float.
_LONG_NUMBER = re.compile(r"(?:^|[\[:,])\s*-?\d{19}")


def projection(text: str) -> Any:
    """A stored person-year projection, decoded. The store writes it as canonical JSON (integers
    within BIGINT, no floats), which orjson reads as json.loads does at a fraction of its cost on
    texts of several kB. orjson reads an integer beyond 64 bits as a float where json.loads keeps
    it an int (only a hand-written row can hold one), so a text with a number of 19 digits or
    more goes to json.loads, as does one orjson refuses: no stored text is read differently."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def recorded(row: asyncpg.Record) -> RecordedEvent:
    data: Mapping[str, object] = json.loads(row["data"])
    return RecordedEvent(
        stream_id=row["stream_id"],
        version=row["version"],
        position=row["position"],
        event_id=uuid.UUID(bytes=row["event_id"].bytes),
        event_type=row["event_type"],
        data=data,
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        hash_alg=row["hash_alg"],
    )


async def read_all_on(connection: Connection, after_position: int, limit: int) -> list[RecordedEvent]:
    """read_all on a given connection (the follower runner reads inside its own transaction)."""
    return [recorded(row) for row in await connection.fetch(READ_ALL, after_position, limit)]


# --- what an auditor reads (AuditableStore) -------------------------------------------------

PROJECTION_STATE = f"""
SELECT coalesce(({HEAD_VERSION} ORDER BY e.version DESC LIMIT 1), 0) AS version,
       p.version AS projected, p.totals
  FROM (SELECT) AS one LEFT JOIN person_year_totals p ON p.stream_id = $1
"""

READ_REQUESTS = """
SELECT key, body_hash, result::text AS result, first_position FROM idempotency
 WHERE $1::text IS NULL OR key > $1 ORDER BY key LIMIT $2
"""

READ_OUTBOX = """
SELECT message_id, position, topic, key, value, headers::text AS headers, published_at FROM outbox
 WHERE position > $1 ORDER BY position LIMIT $2
"""

EVENTS_AT = f"SELECT {EVENT_COLUMNS} FROM events WHERE position = ANY($1::bigint[])"

# The watermark in a transaction of its own: ledger_watermark needs READ COMMITTED.
WATERMARK = "SELECT ledger_watermark()"

# One page of streams (a loose index scan from after_stream), each with its last event below
# a position: one index probe per stream, then a backward walk from its head.
STREAM_HEADS = """
WITH RECURSIVE s(stream_id) AS (
    (SELECT stream_id FROM events WHERE $2::text IS NULL OR stream_id > $2 ORDER BY stream_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.stream_id FROM events e WHERE e.stream_id > s.stream_id ORDER BY e.stream_id LIMIT 1)
      FROM s WHERE s.stream_id IS NOT NULL
)
SELECT h.stream_id, h.version, h.hash
  FROM s CROSS JOIN LATERAL (
        SELECT e.stream_id, e.version, e.hash FROM events e
         WHERE e.stream_id = s.stream_id AND e.position < $1 ORDER BY e.version DESC LIMIT 1) h
 WHERE s.stream_id IS NOT NULL
 LIMIT $3
"""


def outbox_record(row: asyncpg.Record) -> OutboxRecord:
    return OutboxRecord(
        message_id=uuid.UUID(bytes=row["message_id"].bytes),
        position=row["position"],
        topic=row["topic"],
        key=row["key"],
        value=bytes(row["value"]),
        headers=json.loads(row["headers"]),
        published_at=row["published_at"],
    )


# --- the whole log for an audit (ledger/scan.py) ----------------------------------------------

_UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""

# Each stream's events in version order (the (stream_id, version) index), only what the hash
# covers, data as jsonb's text; $1 ≤ stream_id < $2 bounds the streams read ($2 NULL: no end), the
# whole prefix $3's or one key range of it (a share of `ledger verify --jobs`).
# occurred_at in the hash's own form; recorded_at as timestamptz prints it (the scan sets the
# time zone to UTC), read only when a fold needs it — to_char costs the server ~10 % of the scan.
SCAN_TABLE = f"""
SELECT stream_id, version, position, event_id, event_type, data, {_UTC.format("occurred_at")},
       recorded_at, prev_hash, hash, hash_alg
  FROM {{table}}
 WHERE stream_id >= $1 AND ($2::text IS NULL OR stream_id < $2) AND starts_with(stream_id, $3)
 ORDER BY stream_id, version
"""
SCAN_EVENTS = SCAN_TABLE.format(table="events")

# One page of projections of the streams $1 ≤ stream_id < $2 after the last one read ($3).
SCAN_PROJECTIONS = """
SELECT stream_id, version, totals FROM person_year_totals
 WHERE stream_id >= $1 AND ($2::text IS NULL OR stream_id < $2) AND ($3::text IS NULL OR stream_id > $3)
 ORDER BY stream_id LIMIT $4
"""


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (bytewise order of UTF-8 =
    code point order), or None when there is none."""
    while prefix and ord(prefix[-1]) == 0x10FFFF:
        prefix = prefix[:-1]
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None
