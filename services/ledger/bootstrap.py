"""The one place that turns a DSN into a connected store (the CLI and the service use it)."""

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
