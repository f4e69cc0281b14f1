"""Smoke test: the PostgreSQL the project starts (or the one DATABASE_URL names) answers through
asyncpg, and each test gets a database of its own. What the ledger relies on PostgreSQL for
(unique indexes, triggers, transactions, LISTEN) is proved through the ledger's own code, in
the contract and ledger integration tests, not here. Every wait is bounded."""

from __future__ import annotations

import asyncpg

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
