"""Read-only figures the ledger service reports about itself (its /metrics gauges), kept out of
the HTTP module: the outbox backlog and how far each follower projection is behind the log."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

BACKLOG = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
NEWEST = "SELECT coalesce(max(position), 0) FROM events"
CHECKPOINTS = "SELECT name, position FROM projection_checkpoints"


@dataclass(frozen=True)
class Progress:
    outbox_backlog: int  # answers committed but not yet published to Kafka
    newest_position: int  # the newest event's global position
    checkpoints: dict[str, int]  # follower projection → the last position it has applied

    def lag(self, projection: str) -> int:
        return max(0, self.newest_position - self.checkpoints.get(projection, 0))


async def progress(pool: asyncpg.Pool) -> Progress:
    async with pool.acquire() as connection:
        backlog = int(await connection.fetchval(BACKLOG))
        newest = int(await connection.fetchval(NEWEST))
        rows = await connection.fetch(CHECKPOINTS)
    return Progress(backlog, newest, {row["name"]: int(row["position"]) for row in rows})
