"""`ledger verify-chains`: exit 0 when every chain verifies, 1 naming the event when one does not."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger_contract import append, migrated_pool

pytestmark = pytest.mark.integration


def verify(database_url: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ledger.entrypoints.cli", "verify-chains"]
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_verify_chains_passes_an_intact_ledger_and_names_an_edited_event(database_url: str) -> None:
    async with migrated_pool(database_url) as pool:
        await PostgresLedger(pool).commit([append("P1/2025", 0, 3), append("P2/2025", 0, 1)])
    intact = verify(database_url)
    assert (intact.returncode, intact.stdout.strip()) == (0, "every hash chain verifies")

    admin = await asyncpg.connect(database_url)
    await admin.execute("SET session_replication_role = replica")  # a superuser silencing the triggers
    await admin.execute("""UPDATE events SET data = '{"n": 0, "fen": 1}' WHERE stream_id = 'P1/2025' AND version = 2""")
    await admin.close()
    broken = verify(database_url)
    assert broken.returncode == 1
    assert "P1/2025 v2" in broken.stdout and "edited after it was recorded" in broken.stdout
