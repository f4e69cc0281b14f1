"""What the audit tests of the real ledger share: the example year settled into a migrated
database, the `ledger` command run as an auditor would, and a superuser's tampering."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from ledger.adapters.postgres import PostgresLedger
from ledger.follower import FollowerRunner
from ledger.period_totals import ClearingProjection
from ledger_contract import migrated_pool
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "year-2025.jsonl"


@asynccontextmanager
async def example_year(
    database_url: str, *, clearing_batch: int | None = None
) -> AsyncIterator[tuple[asyncpg.Pool, list[Any]]]:
    """A migrated database with examples/year-2025.jsonl settled line by line, and the replies;
    with ``clearing_batch``, the clearing follower caught up in batches of that size."""
    async with migrated_pool(database_url) as pool:
        service = SettlementService(
            PostgresLedger(pool), load_policy_book(ROOT / "policies"), clock=lambda: datetime.now(UTC)
        )
        replies = [
            await service.handle(line, source=f"example:{n}")
            for n, line in enumerate(EXAMPLE.read_bytes().splitlines(), start=1)
        ]
        if clearing_batch is not None:
            await FollowerRunner(pool, ClearingProjection(), batch_size=clearing_batch).catch_up()
        yield pool, replies


def ledger(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The `ledger` console script of this environment, its DATABASE_URL the given one."""
    command = [str(Path(sys.executable).parent / "ledger"), *args]
    environment = {**os.environ, "DATABASE_URL": database_url, **env}
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=180, check=False, cwd=ROOT)


async def as_superuser(database_url: str, statement: str, *args: object) -> None:
    """What only a superuser (an attacker with the database's keys) can do: silence the
    append-only triggers and rewrite a row."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("SET session_replication_role = replica")
        await connection.execute(statement, *args)
    finally:
        await connection.close()
