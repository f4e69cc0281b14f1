"""The follower runner: keeps one read model (a projection) up to date from the global log,
applying each event exactly once.

Which followers exist, and what they keep: ledger/period_totals.py ("clearing"),
ledger/clearing/casemix.py ("casemix"), ledger/funds.py ("funds"); `ledger serve` runs
each of them with ``FollowerRunner.run`` (ledger/app.py).

A projection is a name and an ``apply(connection, events)`` that writes its rows. The runner
reads the log after the projection's checkpoint and, in ONE transaction, lets it write and
moves the checkpoint: a crash leaves both before the batch or both after it. An advisory lock
per projection name keeps a second replica from applying the same batch concurrently.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from engine.events import Event
from engine.records import from_record
from ledger.adapters.postgres_sql import Connection, read_all_on
from ledger.loop import run_until_stopped
from ledger.store import MAX_READ_LIMIT, RecordedEvent

LOCK_SPACE = 7_312_020  # pg_try_advisory_xact_lock(space, lock_key(name)): "ledger follower"


def lock_key(name: str) -> int:
    """The advisory lock key of a projection (fits int4)."""
    return zlib.crc32(name.encode("utf-8")) - (1 << 31)


READ_CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = $1"
WRITE_CHECKPOINT = """
INSERT INTO projection_checkpoints AS c (name, position) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()
 WHERE c.position < excluded.position
RETURNING c.name
"""


async def log_up_to_checkpoint(connection: Connection, name: str, page: int) -> AsyncIterator[list[RecordedEvent]]:
    """For a check of a follower's tables, inside the caller's transaction: hold the follower
    off (its own lock, waited for, released at commit) so tables and checkpoint stay still, then
    yield the log up to its checkpoint a page at a time (rows it has not reached are no problem)."""
    await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_SPACE, lock_key(name))
    checkpoint = int(await connection.fetchval(READ_CHECKPOINT, name) or 0)
    after = 0
    while after < checkpoint:
        events = [e for e in await read_all_on(connection, after, page) if e.position <= checkpoint]
        if not events:
            return
        yield events
        after = events[-1].position


class Projection(Protocol):
    name: str

    async def apply(self, connection: Connection, events: Sequence[RecordedEvent]) -> None:
        """Write the read model's rows for these events (in position order), on this connection."""
        ...


@dataclass(frozen=True)
class _Page:
    after: int  # read after this position
    limit: int
    read_at: float  # time.monotonic()
    events: list[RecordedEvent]
    positions: list[int]


class SharedPages:
    """The pages of the log that the followers of one process read, kept a moment for the others.
    `ledger serve`'s followers stand at or near the same checkpoint, so without this every page is
    read from PostgreSQL and decoded by each of them (docs/benchmarks.md). A page is the whole log
    from its start position to its last event when it was read (read_all_on keeps below the
    watermark), and stays so: the log only grows. So any follower whose checkpoint lies inside a
    page may take the page's rest. A page that ended at the log's end is handed on only while fresh,
    so no follower is kept behind what was committed since; two followers asking for the same page
    at once wait for one read."""

    def __init__(self, *, keep: int = 8, fresh_s: float = 0.05) -> None:
        self._pages: list[_Page] = []  # oldest first
        self._reading: dict[int, asyncio.Future[list[RecordedEvent] | None]] = {}
        self._keep, self._fresh_s = keep, fresh_s

    async def read(self, connection: Connection, after: int, limit: int) -> list[RecordedEvent]:
        found = self._covering(after, limit)
        if found is not None:
            return found
        # Another follower is reading this very page: wait for it. A read that failed hands on
        # None; then the first waiter to wake reads again, and the others wait for that read.
        while (pending := self._reading.get(after)) is not None:
            shared = await asyncio.shield(pending)
            if shared is not None:
                return _first(shared, limit)
        return await self._read(connection, after, limit)

    def _covering(self, after: int, limit: int) -> list[RecordedEvent] | None:
        now = time.monotonic()
        for page in reversed(self._pages):
            if page.after > after or (page.positions and page.positions[-1] < after):
                continue
            rest = _first(page.events[bisect.bisect_right(page.positions, after) :], limit)
            to_the_end = len(page.events) < page.limit  # the log ended inside this page when it was read
            if len(rest) >= limit or (to_the_end and now - page.read_at < self._fresh_s):
                return rest
        return None

    async def _read(self, connection: Connection, after: int, limit: int) -> list[RecordedEvent]:
        future: asyncio.Future[list[RecordedEvent] | None] = asyncio.get_running_loop().create_future()
        self._reading[after] = future
        events: list[RecordedEvent] | None = None
        try:
            events = await read_all_on(connection, after, limit)
        finally:
            if self._reading.get(after) is future:  # never another read's entry
                del self._reading[after]
            future.set_result(events)  # None: the read failed, and whoever waited reads for itself
        self._pages.append(_Page(after, limit, time.monotonic(), events, [e.position for e in events]))
        del self._pages[: -self._keep]
        return events


def _first(events: list[RecordedEvent], limit: int) -> list[RecordedEvent]:
    """The first ``limit`` events, and any after them at the last one's position: like
    ledger_read_all (FETCH … WITH TIES), never ending between two events of one position, or
    the follower's checkpoint would pass the second unread (migration 0011)."""
    end = limit
    while 0 < end < len(events) and events[end].position == events[end - 1].position:
        end += 1
    return events[:end]


_DECODED: OrderedDict[int, tuple[Mapping[str, Any], Event]] = OrderedDict()
_DECODED_KEEP = 4_096  # events: a few pages of every follower


def facts_of(event: RecordedEvent) -> Event:
    """engine.records.from_record of a logged event, decoded once for every follower handed the
    same event (SharedPages): remembered by the identity of its data, which is held while
    remembered, so an event read again (another page, an audit's own read) is decoded afresh."""
    key = id(event.data)
    hit = _DECODED.get(key)
    if hit is not None and hit[0] is event.data:
        return hit[1]
    facts = from_record(event.event_type, event.data)
    _DECODED[key] = (event.data, facts)
    while len(_DECODED) > _DECODED_KEEP:
        _DECODED.popitem(last=False)
    return facts


class FollowerRunner:
    def __init__(
        self, pool: asyncpg.Pool, projection: Projection, *, batch_size: int = 500, pages: SharedPages | None = None
    ) -> None:
        """``pages``: shared with the other followers of the process (ledger/app.py)."""
        assert 0 < batch_size <= MAX_READ_LIMIT
        self._pool, self.projection, self._batch = pool, projection, batch_size
        self._lock_key = lock_key(projection.name)
        self._pages = pages

    async def checkpoint(self) -> int:
        return int(await self._pool.fetchval(READ_CHECKPOINT, self.projection.name) or 0)

    async def run_once(self) -> int:
        """Apply at most one batch; returns how many events it applied (0: caught up or busy)."""
        async with self._pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", LOCK_SPACE, self._lock_key):
                return 0  # another replica is applying this projection right now
            after = int(await connection.fetchval(READ_CHECKPOINT, self.projection.name) or 0)
            if self._pages is None:
                events = await read_all_on(connection, after, self._batch)
            else:
                events = await self._pages.read(connection, after, self._batch)
            if not events:
                return 0
            assert all(a.position < b.position for a, b in itertools.pairwise(events))
            await self.projection.apply(connection, events)
            moved = await connection.fetch(WRITE_CHECKPOINT, self.projection.name, events[-1].position)
            assert moved, f"checkpoint of {self.projection.name} moved backwards"
            return len(events)

    async def catch_up(self, max_batches: int = 1_000) -> int:
        """Apply batches until the log has nothing more (bounded); returns events applied."""
        total = 0
        for _ in range(max_batches):
            applied = await self.run_once()
            total += applied
            if applied < self._batch:
                break
        return total

    async def run(
        self, stop: asyncio.Event, *, interval_s: float, on_failure: Callable[[], None] = lambda: None
    ) -> None:
        """Follow the log until ``stop`` is set, as `ledger serve` does for every follower: full
        batches back to back, then one batch per interval; a failing batch is logged, counted
        (``on_failure``) and retried after a growing backoff (ledger.loop)."""
        await run_until_stopped(
            "projection", self.run_once, stop, interval_s=interval_s, full=self._batch, on_failure=on_failure
        )


def all_projections() -> list[Projection]:
    """Every follower `ledger serve` runs, in the order they are caught up."""
    # Imported here: each of these modules imports this one (LOCK_SPACE, lock_key, Projection).
    from ledger.clearing.casemix import CasemixProjection
    from ledger.funds import FundBookProjection
    from ledger.period_totals import ClearingProjection

    return [ClearingProjection(), CasemixProjection(), FundBookProjection()]


async def verify_followers(pool: asyncpg.Pool, page: int = 5_000) -> list[str]:
    """Problems in the followers' tables that `ledger verify` checks here ("clearing" and
    "funds"), each against a fold of the log up to its checkpoint. The casemix tables are
    checked with the closes (ledger.clearing.audit)."""
    from ledger.funds import verify_fund_books
    from ledger.period_totals import verify_period_totals

    return await verify_period_totals(pool, page) + await verify_fund_books(pool, page)
