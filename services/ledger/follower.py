"""Follower projections: fold the global log into read models, exactly once per event.

A projection is a name and an ``apply(connection, events)`` that writes its rows. The runner
reads the log after the projection's checkpoint and, in ONE transaction, lets it write and
moves the checkpoint: a crash leaves both before the batch or both after it. An advisory lock
per projection name keeps a second replica from applying the same batch concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import zlib
from collections.abc import Sequence
from typing import Protocol

import asyncpg
import structlog

from ledger.adapters.postgres_sql import Connection, read_all_on
from ledger.store import MAX_READ_LIMIT, RecordedEvent

log = structlog.get_logger(__name__)
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


class Projection(Protocol):
    name: str

    async def apply(self, connection: Connection, events: Sequence[RecordedEvent]) -> None:
        """Write the read model's rows for these events (in position order), on this connection."""
        ...


class FollowerRunner:
    def __init__(self, pool: asyncpg.Pool, projection: Projection, *, batch_size: int = 500) -> None:
        assert 0 < batch_size <= MAX_READ_LIMIT
        self._pool, self.projection, self._batch = pool, projection, batch_size
        self._lock_key = lock_key(projection.name)

    async def checkpoint(self) -> int:
        return int(await self._pool.fetchval(READ_CHECKPOINT, self.projection.name) or 0)

    async def run_once(self) -> int:
        """Apply at most one batch; returns how many events it applied (0: caught up or busy)."""
        async with self._pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", LOCK_SPACE, self._lock_key):
                return 0  # another replica is applying this projection right now
            after = int(await connection.fetchval(READ_CHECKPOINT, self.projection.name) or 0)
            events = await read_all_on(connection, after, self._batch)
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

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Follow the log until ``stop`` is set; a failing batch is logged and retried later."""
        while not stop.is_set():
            try:
                applied = await self.run_once()
            except (asyncpg.PostgresError, OSError) as error:
                log.error("projection_failed", projection=self.projection.name, error=str(error))
                applied = 0
            if applied < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
