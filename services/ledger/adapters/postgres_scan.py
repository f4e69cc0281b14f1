"""PostgresLedger.scan_streams: the whole log in one COPY, projections alongside, one snapshot.

The COPY runs as a task that parses its output into streams and hands them over through a
bounded queue (so a slow audit pauses the COPY rather than buffering the log); the projections
are read in keyset pages on a second connection that imported the COPY's snapshot.

A share of a verify over several processes (ledger/verify_jobs.py) scans one key range of the
streams in a snapshot another transaction exported, so that the shares together are one scan.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from ledger.adapters import postgres_sql as sql
from ledger.adapters.postgres_sql import Connection
from ledger.scan import CopyLines, ScannedEvent, StreamScan, scanned_from_copy
from ledger.store import ProjectionState

PROJECTION_PAGE = 2_000
QUEUED_CHUNKS = 8  # parsed COPY chunks waiting for the audit: bounds the memory the scan holds


@dataclass(frozen=True)
class ScanShare:
    """One key range of the log, read in a snapshot exported by a transaction still open."""

    snapshot: str  # pg_export_snapshot()'s id
    start: str  # the first stream id of the range (or the prefix, or "")
    end: str | None  # the first stream id of the next range; None: to the end


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """SET TRANSACTION SNAPSHOT takes no parameter: the id (hex digits and dashes) as a literal."""
    return "'" + text.replace("'", "''") + "'"


_Streams = list[tuple[str, list[ScannedEvent]]]


class _Grouper:
    """COPY lines → whole streams (a stream is complete once the next one begins)."""

    def __init__(self) -> None:
        self.lines = CopyLines()
        self.current: str | None = None
        self.events: list[ScannedEvent] = []

    def feed(self, chunk: bytes) -> _Streams:
        complete: _Streams = []
        current, events = self.current, self.events  # locals: this loop runs once per event
        for line in self.lines.feed(chunk):
            event = scanned_from_copy(line)
            if event.stream_id != current:
                if current is not None:
                    complete.append((current, events))
                current, events = event.stream_id, []
            events.append(event)
        self.current, self.events = current, events
        return complete

    def finish(self) -> _Streams:
        self.lines.finish()
        return [(self.current, self.events)] if self.current is not None else []


class _Projections:
    """The projection rows in stream order, paged, matched to the scanned streams as they come."""

    def __init__(self, connection: Connection, start: str, end: str | None) -> None:
        self._connection, self._start, self._end = connection, start, end
        self._after: str | None = None
        self._page: deque[asyncpg.Record] = deque()
        self._exhausted = False

    async def state(self, stream_id: str, version: int) -> ProjectionState:
        while True:
            while self._page and self._page[0]["stream_id"] < stream_id:
                self._page.popleft()
            if self._page or self._exhausted:
                break
            await self._fetch()
        if self._page and self._page[0]["stream_id"] == stream_id:
            row = self._page.popleft()
            return ProjectionState(version, row["version"], sql.projection(row["totals"]))
        return ProjectionState(version, None, None)

    async def _fetch(self) -> None:
        rows = await self._connection.fetch(sql.SCAN_PROJECTIONS, self._start, self._end, self._after, PROJECTION_PAGE)
        self._page.extend(rows)
        self._exhausted = len(rows) < PROJECTION_PAGE
        if rows:
            self._after = rows[-1]["stream_id"]


async def _copy(
    connection: Connection, query: str, arguments: tuple[str | None, ...], queue: asyncio.Queue[Any]
) -> None:
    grouper = _Grouper()

    async def output(chunk: bytes) -> None:
        streams = grouper.feed(chunk)
        if streams:
            await queue.put(streams)

    try:
        await connection.copy_from_query(query, *arguments, output=output, format="text")
        await queue.put(grouper.finish())
        await queue.put(None)
    except Exception as error:  # handed to the reader, which raises it
        await queue.put(error)


async def scan(
    pool: asyncpg.Pool, prefix: str | None, *, projections: bool, table: str = "events", share: ScanShare | None = None
) -> AsyncIterator[StreamScan]:
    """``table``: the log, or a year taken out of it (ledger/archive.py) — same columns.
    ``share``: only that key range of the log (within the prefix), in that snapshot."""
    start, end = prefix or "", sql.prefix_end(prefix) if prefix else None
    if share is not None:  # one key range of the prefix's streams (its bounds are stream ids)
        start, end = share.start, share.end
    query, arguments = sql.SCAN_TABLE.format(table=quote_ident(table)), (start, end, prefix or "")
    async with pool.acquire() as copying, pool.acquire() as paging:
        # By hand, not copying.transaction(): a scan left early ends its COPY by closing the
        # connection (asyncpg cannot cancel a COPY OUT and go on), and then nothing rolls back.
        await copying.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            if share is None:
                snapshot = await copying.fetchval("SELECT pg_export_snapshot()")
            else:  # the first statement of the transaction: before any query takes its own
                snapshot = share.snapshot
                await copying.execute(f"SET TRANSACTION SNAPSHOT {quote_literal(snapshot)}")
            await copying.execute("SET LOCAL TimeZone = 'UTC'")  # recorded_at as UTC text
            async with paging.transaction(isolation="repeatable_read", readonly=True):
                await paging.execute(f"SET TRANSACTION SNAPSHOT {quote_literal(snapshot)}")
                states = _Projections(paging, start, end) if projections else None
                async for scanned in _streams(copying, query, arguments, states):
                    yield scanned
        finally:
            with contextlib.suppress(asyncpg.InterfaceError):  # closed (and so released) by _streams
                await copying.execute("ROLLBACK")  # read only: nothing to keep


async def _streams(
    copying: Connection, query: str, arguments: tuple[str | None, ...], states: _Projections | None
) -> AsyncIterator[StreamScan]:
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUED_CHUNKS)
    task = asyncio.create_task(_copy(copying, query, arguments, queue))
    try:
        while (streams := await queue.get()) is not None:
            if isinstance(streams, Exception):
                raise streams
            for stream_id, events in streams:
                version = events[-1].version
                state = await states.state(stream_id, version) if states else ProjectionState(version, None, None)
                yield StreamScan(stream_id, events, state)
    finally:
        if not task.done():  # left early: the COPY is still streaming
            copying.terminate()
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
