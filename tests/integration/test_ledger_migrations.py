"""`ledger migrate`: forward-only, recorded, safe to run from several pods at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from ledger.migrate import MigrationError, available, migrate

pytestmark = pytest.mark.integration

TABLES = {"events", "idempotency", "person_year_totals", "outbox", "projection_checkpoints", "schema_migrations"}


async def tables(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {r["tablename"] for r in rows}
    finally:
        await connection.close()


async def test_migrate_applies_every_file_once_and_then_has_nothing_to_do(database_url) -> None:
    assert await migrate(database_url) == [m.name for m in available()]
    assert await migrate(database_url) == []
    assert await tables(database_url) >= TABLES


async def test_several_pods_migrating_at_once_apply_each_file_exactly_once(database_url) -> None:
    results = await asyncio.gather(*(migrate(database_url) for _ in range(4)))
    assert sorted(results, key=len) == [[], [], [], [m.name for m in available()]]
    connection = await asyncpg.connect(database_url)
    assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == len(available())
    await connection.close()


async def test_an_applied_migration_that_was_edited_stops_the_run(database_url) -> None:
    await migrate(database_url)
    connection = await asyncpg.connect(database_url)
    await connection.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE name = $1", available()[0].name)
    await connection.close()
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(database_url)


async def test_migrate_can_grant_the_application_role_to_a_login_role(database_url) -> None:
    login = f"ledger_login_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(database_url)
    await connection.execute(f"CREATE ROLE {login} LOGIN")
    try:
        await migrate(database_url, grant_to=[login])
        assert await connection.fetchval("SELECT pg_has_role($1, 'ledger_app', 'MEMBER')", login) is True
    finally:
        await connection.execute(f"DROP ROLE {login}")
        await connection.close()


def test_the_cli_migrates_the_database_named_by_database_url(database_url) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "ledger.entrypoints.cli", "migrate"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0 and "applied 0001_event_log.sql" in first.stdout
    assert again.returncode == 0 and again.stdout.strip() == "schema up to date"


def test_the_cli_without_a_database_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "ledger.entrypoints.cli", "migrate"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "DATABASE_URL" in done.stderr
