"""The PostgreSQL store: one transaction per commit, every read before the first write.

Concurrency is optimistic: a commit reads each stream's head, refuses a wrong expected version
at once, and the UNIQUE (stream_id, version) index settles a race between two writers that
both read the same head — exactly one insert succeeds, the other gets WrongExpectedVersion.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from ledger import errors
from ledger.adapters import postgres_sql as sql
from ledger.adapters.postgres_sql import Connection
from ledger.hashing import canonical_json
from ledger.prepare import ChainedEvent, chain, check_commit
from ledger.store import (
    MAX_READ_LIMIT,
    CommitReceipt,
    IdempotentRequest,
    OutboxMessage,
    OutboxRecord,
    ProjectionState,
    RecordedEvent,
    StoredRequest,
    StreamAppend,
    StreamHead,
    known_by,
)


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def read_stream(self, stream_id: str, *, as_of: datetime | None = None) -> list[RecordedEvent]:
        events = [sql.recorded(row) for row in await self._pool.fetch(sql.READ_STREAM, stream_id, as_of)]
        return events if as_of is None else known_by(events, as_of)

    async def read_projection(self, stream_id: str) -> tuple[int, Mapping[str, Any] | None]:
        row = await self._pool.fetchrow(sql.READ_PROJECTION, stream_id)
        assert row is not None
        if row["totals"] is None:
            return row["version"], None
        assert row["projected"] == row["version"], f"projection of {stream_id} behind its stream"
        return row["version"], json.loads(row["totals"])

    async def find_request(self, key: str) -> StoredRequest | None:
        row = await self._pool.fetchrow(sql.FIND_REQUEST, key)
        return None if row is None else sql.stored_request(row)

    async def read_all(self, after_position: int, limit: int) -> list[RecordedEvent]:
        assert 0 < limit <= MAX_READ_LIMIT, f"limit must be 1..{MAX_READ_LIMIT}"
        async with self._pool.acquire() as connection:
            return await sql.read_all_on(connection, after_position, limit)

    async def list_streams(self, prefix: str | None = None) -> list[str]:
        return [row["stream_id"] for row in await self._pool.fetch(sql.LIST_STREAMS, prefix or "")]

    # --- what an auditor reads (AuditableStore) ---------------------------------------------

    async def projection_state(self, stream_id: str) -> ProjectionState:
        row = await self._pool.fetchrow(sql.PROJECTION_STATE, stream_id)
        assert row is not None  # the statement always returns its one row
        totals = None if row["totals"] is None else json.loads(row["totals"])
        return ProjectionState(row["version"], row["projected"], totals)

    async def read_requests(self, after_key: str | None, limit: int) -> list[StoredRequest]:
        return [sql.stored_request(row) for row in await self._pool.fetch(sql.READ_REQUESTS, after_key, limit)]

    async def read_outbox(self, after_position: int, limit: int) -> list[OutboxRecord]:
        return [sql.outbox_record(row) for row in await self._pool.fetch(sql.READ_OUTBOX, after_position, limit)]

    async def events_at(self, positions: Sequence[int]) -> dict[int, RecordedEvent]:
        rows = await self._pool.fetch(sql.EVENTS_AT, sorted(set(positions)))
        return {row["position"]: sql.recorded(row) for row in rows}

    async def watermark(self) -> int:
        return int(await self._pool.fetchval(sql.WATERMARK))

    async def stream_heads(self, before_position: int, after_stream: str | None, limit: int) -> list[StreamHead]:
        rows = await self._pool.fetch(sql.STREAM_HEADS, before_position, after_stream, limit)
        return [StreamHead(row["stream_id"], row["version"], row["hash"]) for row in rows]

    async def commit(
        self,
        appends: Sequence[StreamAppend],
        *,
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> CommitReceipt:
        async with self._pool.acquire() as connection:
            try:
                async with connection.transaction():
                    positions = await self.write(connection, appends, request, outbox)
            except asyncpg.UniqueViolationError as clash:
                raise await self._explain(connection, clash, appends, request) from clash
        versions = {a.stream_id: a.expected_version + len(a.events) for a in appends}
        return CommitReceipt(positions=positions, stream_versions=versions)

    async def write(
        self,
        connection: Connection,
        appends: Sequence[StreamAppend],
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> tuple[int, ...]:
        """commit's body inside a transaction the caller holds (tests and tools that must keep it
        open); raises the raw UniqueViolationError of a lost race. Returns the events' positions."""
        check_commit(appends, request, outbox)
        xid, chained = await self._check(connection, appends, request)
        base = xid << 16
        events = [(base + e.index, e.stream_id, e.version, e.event_id, e.event_type, e.data_json, e.occurred_at,
                   e.prev_hash, e.hash) for e in chained]  # fmt: skip
        algorithms = [e.hash_alg for e in chained]
        projected = [(a.stream_id, a.expected_version + len(a.events), canonical_json(a.projection))
                     for a in appends if a.projection is not None]  # fmt: skip
        messages = [(m.message_id, base + j, m.topic, m.key, m.value, canonical_json(dict(m.headers)))
                    for j, m in enumerate(outbox)]  # fmt: skip
        first = base + chained[0].index if chained else None
        key, body, result = (request.key, request.body_hash, canonical_json(request.result)) if request else (None,) * 3
        written = await connection.fetchrow(
            sql.WRITE_COMMIT, *_columns(events, 9), key, body, result, first, *_columns(projected, 3),
            *_columns(messages, 6), algorithms,
        )  # fmt: skip
        assert written is not None
        assert tuple(written) == (len(events), int(request is not None), len(projected), len(messages)), written
        return tuple(row[0] for row in events)

    async def _check(
        self, connection: Connection, appends: Sequence[StreamAppend], request: IdempotentRequest | None
    ) -> tuple[int, list[ChainedEvent]]:
        """Refuse in contract order (request, then versions); else chain the events."""
        streams = [a.stream_id for a in appends]
        rows = await connection.fetch(sql.READ_FOR_COMMIT, streams, request.key if request else None)
        if request is not None and rows[0]["key"] is not None:
            if rows[0]["body_hash"] != request.body_hash:
                raise errors.IdempotencyConflict(request.key)
            raise errors.DuplicateRequest(sql.stored_request(rows[0]))
        chained: list[ChainedEvent] = []
        for append, head in zip(appends, rows, strict=False):
            assert head["stream_id"] == append.stream_id
            if head["version"] != append.expected_version:
                raise errors.WrongExpectedVersion(append.stream_id, append.expected_version, head["version"])
            if append.projection is None and head["projected"] is not None:
                raise errors.MissingProjection(append.stream_id)
            chained += chain(append, head["hash"], len(chained))
        return int(rows[0]["xid"]), chained

    async def _explain(
        self,
        connection: Connection,
        clash: asyncpg.UniqueViolationError,
        appends: Sequence[StreamAppend],
        request: IdempotentRequest | None,
    ) -> errors.LedgerError:
        """A concurrent writer committed first; say which refusal that makes, in contract order."""
        try:
            async with connection.transaction():
                await self._check(connection, appends, request)
        except errors.LedgerError as refusal:
            return refusal
        return errors.EventIdConflict(sql.uuid_in(getattr(clash, "detail", None)))


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows → one list per column (what unnest takes), also when there are no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
