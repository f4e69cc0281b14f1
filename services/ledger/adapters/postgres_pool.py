"""A DSN to a connection pool, or to a PostgresLedger on one, closed on exit: how the ``ledger``
command's subcommands (and the clearing's) connect. `ledger serve` opens its own pool in the
ASGI lifespan (ledger/app.py), sized for the relay and the followers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from ledger.adapters.postgres import PostgresLedger


@asynccontextmanager
async def postgres_pool(dsn: str, *, max_size: int = 8) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def postgres_ledger(dsn: str, *, max_size: int = 8) -> AsyncIterator[PostgresLedger]:
    async with postgres_pool(dsn, max_size=max_size) as pool:
        yield PostgresLedger(pool)
