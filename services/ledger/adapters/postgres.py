"""The PostgreSQL store: one transaction per commit, every read before the first write.

Concurrency is optimistic: a commit reads each stream's head, refuses a wrong expected version
at once, and the UNIQUE (stream_id, version) index settles a race between two writers that
both read the same head — exactly one insert succeeds, the other gets WrongExpectedVersion.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from ledger import errors
from ledger.adapters import postgres_scan
from ledger.adapters import postgres_sql as sql
from ledger.adapters.postgres_sql import Connection
from ledger.prepare import ChainedBatch, Encoded, Head, chain_batch, check_batch, judge
from ledger.scan import StreamScan
from ledger.store import (
    MAX_LOOKUP,
    MAX_READ_LIMIT,
    BatchReceipt,
    CommitReceipt,
    CommitRequest,
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

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 3  # a batch that keeps losing races this often is reported, not retried forever


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._years: set[int] = set()  # years known to have their partition

    async def read_stream(self, stream_id: str, *, as_of: datetime | None = None) -> list[RecordedEvent]:
        events = [sql.recorded(row) for row in await self._pool.fetch(sql.READ_STREAM, stream_id, as_of)]
        return events if as_of is None else known_by(events, as_of)

    async def read_projection(self, stream_id: str) -> tuple[int, Mapping[str, Any] | None]:
        row = await self._pool.fetchrow(sql.READ_PROJECTION, stream_id)
        assert row is not None
        if row["totals"] is None:
            return row["version"], None
        assert row["projected"] == row["version"], f"projection of {stream_id} behind its stream"
        return row["version"], sql.projection(row["totals"])

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
        totals = None if row["totals"] is None else sql.projection(row["totals"])
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

    async def read_projections(self, stream_ids: Sequence[str]) -> dict[str, tuple[int, Mapping[str, Any] | None]]:
        assert len(stream_ids) <= MAX_LOOKUP, f"at most {MAX_LOOKUP} streams per read"
        found: dict[str, tuple[int, Mapping[str, Any] | None]] = {}
        for row in await self._pool.fetch(sql.PROJECTIONS, list(dict.fromkeys(stream_ids))):
            if row["totals"] is None:
                found[row["stream_id"]] = (row["version"], None)
                continue
            assert row["projected"] == row["version"], f"projection of {row['stream_id']} behind its stream"
            found[row["stream_id"]] = (row["version"], sql.projection(row["totals"]))
        return found

    async def find_requests(self, keys: Sequence[str]) -> dict[str, StoredRequest]:
        assert len(keys) <= MAX_LOOKUP, f"at most {MAX_LOOKUP} keys per read"
        return {row["key"]: sql.stored_request(row) for row in await self._pool.fetch(sql.FIND_REQUESTS, list(keys))}

    def scan_streams(self, prefix: str | None = None, *, projections: bool = True) -> AsyncIterator[StreamScan]:
        """The whole log in one COPY and one snapshot (ledger/adapters/postgres_scan.py)."""
        return postgres_scan.scan(self._pool, prefix, projections=projections)

    async def commit(
        self,
        appends: Sequence[StreamAppend],
        *,
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> CommitReceipt:
        try:
            (receipt,) = (await self.commit_batch([CommitRequest(appends, request, outbox)])).receipts
        except errors.BatchRefused as refused:
            raise refused.refusals[0] from refused.__cause__
        return receipt

    async def commit_batch(self, requests: Sequence[CommitRequest]) -> BatchReceipt:
        """One transaction. A unique violation means a concurrent writer committed first: the
        batch is judged again in a new transaction (now also probing its ids), which either
        names the refusals (BatchRefused, caused by the violation) or writes it after all."""
        encoded = check_batch(requests)
        await self._open_years(requests)
        clash: asyncpg.PostgresError | None = None
        for attempt in range(MAX_ATTEMPTS):
            async with self._pool.acquire() as connection:
                try:
                    async with connection.transaction():
                        receipts = await self._write_batch(connection, requests, encoded, probe=clash is not None)
                    return BatchReceipt(receipts)
                except errors.BatchRefused as refused:
                    raise refused from clash
                except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError) as error:
                    clash = error
                    log_race(attempt, error)
        assert clash is not None
        raise clash

    async def _open_years(self, requests: Sequence[CommitRequest]) -> None:
        """Make sure each year the batch writes to has its partition (migration 0011): asked of
        the database once per year and process, on a connection of its own, before the write
        transaction begins (creating a partition locks the whole log until it commits)."""
        years = {sql.stream_year(a.stream_id) for one in requests for a in one.appends} - self._years
        if years:
            async with self._pool.acquire() as connection:
                for year in sorted(years):
                    await connection.execute(sql.ADD_YEAR, year)
            self._years |= years

    async def write(
        self,
        connection: Connection,
        appends: Sequence[StreamAppend],
        request: IdempotentRequest | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> tuple[int, ...]:
        """commit's body inside a transaction the caller holds (tests and tools that must keep it
        open); raises the raw UniqueViolationError of a lost race. Returns the events' positions."""
        one = [CommitRequest(appends, request, outbox)]
        encoded = check_batch(one)
        await self._open_years(one)
        try:
            (receipt,) = await self._write_batch(connection, one, encoded, probe=False)
        except errors.BatchRefused as refused:
            raise refused.refusals[0] from None
        return receipt.positions

    async def _write_batch(
        self, connection: Connection, requests: Sequence[CommitRequest], encoded: list[Encoded], *, probe: bool
    ) -> tuple[CommitReceipt, ...]:
        """Read every head and key, judge, chain, write: inside the caller's transaction."""
        xid, heads, stored = await self._read_for_batch(connection, requests)
        taken_events, taken_messages = await self._taken(connection, requests) if probe else (set(), set())
        judge(requests, heads, stored, taken_events, taken_messages).enforce()
        chained = chain_batch(requests, heads, encoded)
        base = xid << 16
        columns = _batch_columns(requests, chained, encoded, base)
        written = await connection.fetchrow(sql.WRITE_BATCH, *columns)
        assert written is not None
        expected = (len(columns[0]), len(columns[10]), len(columns[14]), len(columns[17]))
        assert tuple(written) == expected, (tuple(written), expected)
        return chained.receipts(requests, base)

    async def _read_for_batch(
        self, connection: Connection, requests: Sequence[CommitRequest]
    ) -> tuple[int, dict[str, Head], dict[str, StoredRequest]]:
        streams = list(dict.fromkeys(a.stream_id for one in requests for a in one.appends))
        keys = [one.request.key for one in requests if one.request is not None]
        xid, heads, stored = 0, {}, {}
        for row in await connection.fetch(sql.READ_FOR_BATCH, streams, keys):
            if row["kind"] == 0:
                xid = int(row["xid"])
            elif row["kind"] == 1:
                heads[row["name"]] = Head(row["version"], row["hash"], row["projected"] is not None)
            else:
                stored[row["name"]] = StoredRequest(
                    row["name"], row["body_hash"], json.loads(row["result"]), row["first_position"]
                )
        assert xid > 0 and len(heads) == len(streams)
        return xid, heads, stored

    async def _taken(
        self, connection: Connection, requests: Sequence[CommitRequest]
    ) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        events = [e.event_id for one in requests for a in one.appends for e in a.events]
        messages = [m.message_id for one in requests for m in one.outbox]
        rows = await connection.fetch(sql.TAKEN_IDS, events, messages)
        taken = [uuid.UUID(bytes=row["id"].bytes) for row in rows]
        return (
            {i for i, row in zip(taken, rows, strict=True) if row["kind"] == "event"},
            {i for i, row in zip(taken, rows, strict=True) if row["kind"] == "message"},
        )


def log_race(attempt: int, error: asyncpg.PostgresError) -> None:
    log.info("ledger_batch_race", attempt=attempt + 1, error=type(error).__name__)


def _batch_columns(
    requests: Sequence[CommitRequest], chained: ChainedBatch, encoded: list[Encoded], base: int
) -> list[list[Any]]:
    """WRITE_BATCH's 23 array parameters (the JSON texts made once, while checking)."""
    events = [(base + e.index, e.stream_id, e.version, e.event_id, e.event_type, e.data_json, e.occurred_at,
               e.prev_hash, e.hash, e.hash_alg) for e in chained.all_events()]  # fmt: skip
    answered = [
        (one.request.key, one.request.body_hash, json_of.result, base + written[0].index if written else None)
        for one, written, json_of in zip(requests, chained.events, encoded, strict=True) if one.request is not None
    ]  # fmt: skip
    projected = [(stream, version, text) for stream, (version, text) in chained.projections.items()]
    outgoing = [(m, headers) for one, json_of in zip(requests, encoded, strict=True)
                for m, headers in zip(one.outbox, json_of.headers, strict=True)]  # fmt: skip
    messages = [(m.message_id, base + j, m.topic, m.key, m.value, headers) for j, (m, headers) in enumerate(outgoing)]
    return [*_columns(events, 10), *_columns(answered, 4), *_columns(projected, 3), *_columns(messages, 6)]


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows → one list per column (what unnest takes), also when there are no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
