"""The PostgreSQL the project starts (or the one DATABASE_URL names) behaves as the ledger
expects, through the driver the ledger uses (asyncpg). Every wait is bounded."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

WAIT = 30.0


async def test_each_test_gets_its_own_fresh_empty_database(database_url: str, postgres_admin_dsn: str) -> None:
    connection = await asyncpg.connect(database_url, timeout=WAIT)
    try:
        name = await connection.fetchval("SELECT current_database()")
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        is_superuser = await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    finally:
        await connection.close()
    assert name not in ("postgres", "template1")
    assert tables == 0
    assert is_superuser
    assert postgres_admin_dsn.split("?")[0].endswith("/postgres")


async def test_a_connection_pool_runs_queries_concurrently_on_separate_connections(database_url: str) -> None:
    async with (
        asyncio.timeout(WAIT),
        asyncpg.create_pool(database_url, min_size=2, max_size=4) as pool,
    ):
        backends = await asyncio.gather(
            *(pool.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.2)") for _ in range(8))
        )
        version = await pool.fetchval("SELECT version()")
    assert 2 <= len(set(backends)) <= 4
    assert version.startswith("PostgreSQL")


async def test_a_rolled_back_transaction_leaves_nothing_behind(database_url: str) -> None:
    connection = await asyncpg.connect(database_url, timeout=WAIT)
    try:
        async with asyncio.timeout(WAIT):
            await connection.execute("CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric(12, 2) NOT NULL)")
            with pytest.raises(RuntimeError, match="undo"):
                async with connection.transaction():
                    await connection.executemany(
                        "INSERT INTO entries VALUES ($1, $2)", [(n, "10.00") for n in range(100)]
                    )
                    assert await connection.fetchval("SELECT count(*) FROM entries") == 100
                    raise RuntimeError("undo")
            assert await connection.fetchval("SELECT count(*) FROM entries") == 0
    finally:
        await connection.close()


async def test_a_duplicate_key_raises_unique_violation_naming_the_constraint_and_the_key(database_url: str) -> None:
    connection = await asyncpg.connect(database_url, timeout=WAIT)
    try:
        async with asyncio.timeout(WAIT):
            await connection.execute(
                "CREATE TABLE settlements (setl_id text CONSTRAINT settlements_setl_id_key UNIQUE, amount numeric)"
            )
            await connection.execute("INSERT INTO settlements VALUES ('S-1', 1)")
            with pytest.raises(asyncpg.UniqueViolationError) as raised:
                await connection.execute("INSERT INTO settlements VALUES ('S-1', 2)")
            # The failed statement must not poison the connection outside a transaction.
            assert await connection.fetchval("SELECT count(*) FROM settlements") == 1
    finally:
        await connection.close()
    error = raised.value
    assert error.constraint_name == "settlements_setl_id_key"
    assert 'duplicate key value violates unique constraint "settlements_setl_id_key"' in str(error)
    assert error.detail == "Key (setl_id)=(S-1) already exists."
