"""Retention: `ledger prune` deletes published outbox rows and old idempotency rows, and nothing
else; the application role still cannot delete; verify does not miss what was pruned.

Ages are made by a superuser moving `published_at` / `recorded_at` back (with the triggers off),
as the days would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.errors import EventIdConflict
from ledger.store import OutboxMessage
from ledger_contract import append, migrated_pool, request
from settlement.service_layer.handlers import SettlementService

from engine.policy_files import load_policy_book

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Six requests, each with an event and an outbox message; the first four 500 days old."""
    async with migrated_pool(database_url) as pool:
        store = PostgresLedger(pool)
        for n in range(6):
            message = OutboxMessage(uuid.uuid4(), "settlements.v1", f"P{n}", b"{}")
            await store.commit([append(f"P{n}/2025", 0)], request=request(f"H1:r{n}"), outbox=[message])
        yield pool


async def age(database_url: str, statement: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("SET session_replication_role = replica")
        await admin.execute(statement)
    finally:
        await admin.close()


def ledger(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "ledger"), *args]
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM idempotency), (SELECT count(*) FROM outbox)"
    )
    assert row is not None
    return tuple(row)  # type: ignore[return-value]


async def test_published_outbox_rows_past_the_setting_go_and_unpublished_ones_stay(pool, database_url: str) -> None:
    # r0, r1 published 10 days ago; r2 published just now; r3..r5 never published.
    await age(database_url, "UPDATE outbox SET published_at = now() - interval '10 days' WHERE key IN ('P0', 'P1')")
    await age(database_url, "UPDATE outbox SET published_at = now() WHERE key = 'P2'")
    await age(database_url, "UPDATE outbox SET created_at = now() - interval '30 days' WHERE key IN ('P3', 'P4')")

    pruned = ledger(database_url, "prune", "--outbox-days", "7")

    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 2 published outbox row(s) older than 7 day(s)" in pruned.stdout
    left = {r["key"] for r in await pool.fetch("SELECT key FROM outbox")}
    assert left == {"P2", "P3", "P4", "P5"}
    assert await counts(pool) == (6, 6, 4)  # events and idempotency untouched


async def test_idempotency_rows_past_the_horizon_go_unless_their_answer_is_still_queued(pool, database_url) -> None:
    await age(database_url, "UPDATE idempotency SET recorded_at = now() - interval '500 days' WHERE key < 'H1:r4'")
    await age(database_url, "UPDATE outbox SET published_at = now() - interval '500 days' WHERE key IN ('P0', 'P1')")
    # r0, r1: old, message published long ago (pruned first) → go. r2, r3: old, message never
    # published → stay with it. r4, r5: young → stay.
    await age(
        database_url,
        "UPDATE idempotency SET result = jsonb_build_object('event_id', o.message_id::text) FROM outbox o "
        "WHERE o.key = 'P' || right(idempotency.key, 1)",
    )

    pruned = ledger(database_url, "prune")

    assert pruned.returncode == 0, pruned.stderr
    assert (
        "pruned 2 published outbox row(s)" in pruned.stdout and "2 idempotency row(s) older than 400" in pruned.stdout
    )
    assert sorted(r["key"] for r in await pool.fetch("SELECT key FROM idempotency")) == [
        "H1:r2", "H1:r3", "H1:r4", "H1:r5",
    ]  # fmt: skip
    assert await counts(pool) == (6, 4, 4)


async def test_a_horizon_shorter_than_a_coverage_year_is_refused_by_the_cli_and_the_database(
    pool, database_url: str
) -> None:
    with pytest.raises(asyncpg.RaiseError, match="at least 366 days"):
        await pool.fetchval("SELECT ledger_prune_idempotency(interval '30 days', 100)")
    refused = ledger(database_url, "prune", "--idempotency-days", "30")
    assert refused.returncode == 2 and "at least 366" in refused.stderr


PRUNE_CALLS = [
    "SELECT ledger_prune_outbox(interval '0', 100)",
    "SELECT ledger_prune_idempotency(interval '400 days', 100)",
]
DELETES = ["DELETE FROM outbox", "DELETE FROM idempotency", "DELETE FROM events"]


@pytest.mark.parametrize("sql", DELETES + PRUNE_CALLS)
async def test_the_application_role_still_cannot_delete_or_prune(pool, sql: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL ROLE ledger_app")
        await connection.execute("SET LOCAL ledger.pruning = 'idempotency'")  # the flag grants nothing
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.execute(sql)
    assert await counts(pool) == (6, 6, 6)


async def test_a_prune_role_may_prune_and_nothing_else(pool, database_url: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("CREATE ROLE prune_job LOGIN")
        granted = ledger(database_url, "migrate", "--grant-prune-to", "prune_job")
        assert granted.returncode == 0, granted.stderr
        async with admin.transaction():
            await admin.execute("SET LOCAL ROLE prune_job")
            assert await admin.fetchval("SELECT ledger_prune_outbox(interval '0', 100)") == 0  # nothing published
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await admin.execute("DELETE FROM outbox")
    finally:
        await admin.execute("DROP OWNED BY prune_job; DROP ROLE prune_job")
        await admin.close()


async def test_the_owner_still_cannot_delete_idempotency_rows_outside_the_prune_function(pool) -> None:
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM idempotency WHERE key = 'H1:r0'")


async def test_verify_finds_nothing_missing_after_a_prune(database_url: str) -> None:
    """The example year, settled by the use case, then everything past its horizon pruned."""
    root = Path(__file__).resolve().parents[2]
    async with migrated_pool(database_url) as pool:
        service = SettlementService(
            PostgresLedger(pool), load_policy_book(root / "policies"), clock=lambda: datetime.now(UTC)
        )
        for n, line in enumerate((root / "examples" / "year-2025.jsonl").read_bytes().splitlines(), start=1):
            await service.handle(line, source=f"example:{n}")
        await age(database_url, "UPDATE outbox SET published_at = now() - interval '500 days'")
        await age(database_url, "UPDATE idempotency SET recorded_at = now() - interval '500 days'")
        assert ledger(database_url, "prune").returncode == 0
        assert (await counts(pool))[1:] == (0, 0)
    verify = ledger(database_url, "verify")
    assert verify.returncode == 0, verify.stdout
    assert "idempotency and outbox rows" in verify.stdout


async def test_a_retry_past_the_horizon_is_never_settled_twice(database_url: str) -> None:
    root = Path(__file__).resolve().parents[2]
    lines = (root / "examples" / "year-2025.jsonl").read_bytes().splitlines()
    async with migrated_pool(database_url) as pool:
        service = SettlementService(
            PostgresLedger(pool), load_policy_book(root / "policies"), clock=lambda: datetime.now(UTC)
        )
        for n, line in enumerate(lines, start=1):
            await service.handle(line, source=f"example:{n}")
        claim = next(line for line in lines if b'"claim"' in line)
        await age(database_url, "UPDATE outbox SET published_at = now() - interval '500 days'")
        await age(database_url, "UPDATE idempotency SET recorded_at = now() - interval '500 days'")
        assert ledger(database_url, "prune").returncode == 0
        settled = "SELECT count(*) FROM events WHERE event_type = 'ClaimSettled'"
        before = await pool.fetchval(settled)

        try:
            again = await service.handle(claim, source="retried-after-the-horizon")
        except EventIdConflict:
            pass  # should the decision write events: the consumer answers it as failed (ADR 0003)
        else:
            assert again.msg_type == "rejection" and again.code == "visit_already_settled", again

        assert await pool.fetchval(settled) == before
