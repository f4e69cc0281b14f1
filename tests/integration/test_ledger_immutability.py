"""History cannot be edited: the application role lacks the privilege, and triggers refuse
even the table owner. Only the outbox's published_at may change after a commit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger_contract import append, migrated_pool, request

pytestmark = pytest.mark.integration

EDITS = {
    "events": [
        "UPDATE events SET data = '{\"fen\": 0}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ],
    "idempotency": [
        "UPDATE idempotency SET result = '{}'",
        "DELETE FROM idempotency",
        "TRUNCATE idempotency",
    ],
}
ALL_EDITS = [(table, sql) for table, sqls in EDITS.items() for sql in sqls]


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to a ledger holding one settled request."""
    async with migrated_pool(database_url) as pool:
        await PostgresLedger(pool).commit([append("P1/2025", 0, 2)], request=request("H1:r1"))
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def counts(connection: asyncpg.Connection) -> tuple[int, int]:
    return (
        await connection.fetchval("SELECT count(*) FROM events"),
        await connection.fetchval("SELECT count(*) FROM idempotency"),
    )


@pytest.mark.parametrize(("table", "sql"), ALL_EDITS)
async def test_the_application_role_may_not_edit_history(admin, table: str, sql: str) -> None:
    async with admin.transaction():
        await admin.execute("SET LOCAL ROLE ledger_app")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=f"permission denied for table {table}"):
            await admin.execute(sql)
    assert await counts(admin) == (2, 1)


@pytest.mark.parametrize(("table", "sql"), ALL_EDITS)
async def test_the_trigger_refuses_even_a_superuser(admin, table: str, sql: str) -> None:
    with pytest.raises(asyncpg.RaiseError, match=f"on {table} refused: the table is append-only"):
        await admin.execute(sql)
    assert await counts(admin) == (2, 1)


async def test_an_update_matching_no_row_is_refused_too(admin) -> None:
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await admin.execute("UPDATE events SET event_type = 'X' WHERE false")


async def test_an_insert_that_forks_the_hash_chain_is_refused(admin) -> None:
    forged = """
    INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash)
    VALUES ((pg_current_xact_id()::text::bigint << 16), 'P1/2025', 3, gen_random_uuid(), 'X', '{}', now(),
            repeat('a', 64), repeat('b', 64))
    """
    with pytest.raises(asyncpg.RaiseError, match="does not follow version 2's hash"):
        await admin.execute(forged)


async def test_an_insert_with_a_position_outside_its_transaction_is_refused(admin) -> None:
    forged = """
    INSERT INTO events (position, stream_id, version, event_id, event_type, data, occurred_at, prev_hash, hash)
    VALUES (1, 'new/2025', 1, gen_random_uuid(), 'X', '{}', now(), repeat('0', 64), repeat('b', 64))
    """
    with pytest.raises(asyncpg.RaiseError, match="does not belong to this transaction"):
        await admin.execute(forged)


async def test_the_application_role_may_mark_outbox_messages_published_but_not_rewrite_them(admin) -> None:
    await admin.execute(
        "INSERT INTO outbox (message_id, position, topic, key, value) "
        "VALUES (gen_random_uuid(), 1, 'settlements.v1', 'P1', '\\x7b7d')"
    )
    async with admin.transaction():
        await admin.execute("SET LOCAL ROLE ledger_app")
        assert await admin.execute("UPDATE outbox SET published_at = now()") == "UPDATE 1"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await admin.execute("UPDATE outbox SET value = '\\x00'")


async def test_the_application_role_cannot_log_in_on_its_own(admin) -> None:
    assert await admin.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'ledger_app'") is False
