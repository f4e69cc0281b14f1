"""The log partitioned by its streams' years (migration 0011): an existing ledger migrates unchanged,
each stream lives in its year, a new year opens on its first write, a closed year can be
detached and verify still accounts for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_sql import stream_year
from ledger.archive import archive_check, detach_year
from ledger.audit import verify_chains
from ledger.migrate import migrate
from ledger.verify import verify_ledger
from ledger_contract import append, migrated_pool, request
from ledger_upgrades import a_v2_ledger, copy_in, migrate_until
from ledger_v1 import restore_into_postgres

pytestmark = pytest.mark.integration
ROWS = """
SELECT position, stream_id, version, event_id, event_type, data::text, occurred_at, recorded_at, prev_hash, hash,
       hash_alg FROM events ORDER BY position
"""


@pytest.fixture
async def upgraded(database_url: str) -> AsyncIterator[list[asyncpg.Record]]:
    """A database at 0010 holding the v1 fixture ledger and a v2 ledger, then migrated to 0011."""
    await migrate_until(database_url, "0010_outbox_notify.sql")
    v2 = await a_v2_ledger()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await restore_into_postgres(pool, open_years=False)  # 0010 has no partitions to open
        async with pool.acquire() as connection:
            await copy_in(connection, v2)
            before = await connection.fetch(ROWS)
    finally:
        await pool.close()
    assert (await migrate(database_url))[0] == "0011_events_by_year.sql"  # then any later ones
    yield before


async def test_an_existing_ledger_migrates_into_partitions_unchanged_and_verifies(upgraded, database_url) -> None:
    before = upgraded
    async with migrated_pool(database_url, role="ledger_app") as pool:
        assert [tuple(r) for r in await pool.fetch(ROWS)] == [tuple(r) for r in before]
        assert {r["hash_alg"] for r in before} == {1, 2}  # both generations of hashes went through
        homes = await pool.fetch("SELECT DISTINCT stream_id, tableoid::regclass::text AS home FROM events")
        assert all(r["home"] == f"events_y{stream_year(r['stream_id'])}" for r in homes)
        assert {r["home"] for r in homes} >= {"events_y0", "events_y2025"}
        store = PostgresLedger(pool)
        assert await verify_chains(store) == []
        report = await verify_ledger(store)
        assert [f.subject for f in report.findings] == ["operations-log"]  # not the domain's events: unreadable
        assert report.streams == len(await store.list_streams())
        page = await store.read_all(0, 10_000)
        assert [e.position for e in page] == [r["position"] for r in before]


async def test_after_the_migration_writers_append_and_nobody_edits(upgraded, database_url) -> None:
    async with migrated_pool(database_url, role="ledger_app") as pool:
        store = PostgresLedger(pool)
        version, _ = await store.read_projection("P001/2025")
        head = (await store.read_stream("P001/2025"))[-1]
        credit = append("P001/2025", version, 1, {"anything": 1})
        await store.commit([credit], request=request("after-partitioning"))  # the v1 chain goes on in v2
        assert (await store.read_stream("P001/2025"))[-1].prev_hash == head.hash
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the grants came over with the table
            await pool.execute("UPDATE events SET data = '{}' WHERE stream_id = 'P001/2025'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # and none on a partition itself
            await pool.execute("DELETE FROM events_y2025")
    owner = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):  # the owner, through the log
            await owner.execute("UPDATE events SET data = '{}' WHERE stream_id = 'P001/2025'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):  # and on the partition itself
            await owner.execute("DELETE FROM events_y2025 WHERE version = 1")
    finally:
        await owner.close()


async def test_the_first_writers_of_a_new_year_open_its_partition_once_even_at_once(database_url: str) -> None:
    async with migrated_pool(database_url, role="ledger_app", size=6) as pool:
        stores = [PostgresLedger(pool) for _ in range(5)]  # each asks the database itself
        await asyncio.gather(*(s.commit([append(f"P{i}/2031", 0, 2)]) for i, s in enumerate(stores)))
        homes = await pool.fetch("SELECT DISTINCT tableoid::regclass::text AS home FROM events")
        assert [r["home"] for r in homes] == ["events_y2031"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.fetch("SELECT * FROM events_y2031")


async def test_stream_year_is_the_same_function_in_the_database(database_url: str) -> None:
    await migrate(database_url)
    ids = ["P1/2025", "inst/H1/2024", "region/650000/2026", "log", "a/2025x", "a/20255", "x/0999", "/2025",
           "中文/2030", "a/2025\n"]  # fmt: skip
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT s, ledger_stream_year(s) AS y FROM unnest($1::text[]) AS s", ids)
    finally:
        await connection.close()
    assert {r["s"]: r["y"] for r in rows} == {s: stream_year(s) for s in ids}
    assert [stream_year(s) for s in ids] == [2025, 2024, 2026, 0, 0, 0, 999, 2025, 2030, 0]


async def test_a_closed_year_detached_is_still_checked_from_its_table_or_named_as_not_checked(database_url) -> None:
    async with migrated_pool(database_url, role="ledger_app") as pool, migrated_pool(database_url) as owner:
        store = PostgresLedger(pool)
        await store.commit([append("A/2024", 0, 3), append("B/2024", 0, 1)])
        await store.commit([append("A/2025", 0, 2)], request=request("H1:r1"))
        await store.commit([append("C/2024", 0, 1)], request=request("H1:r2"))
        with pytest.raises(asyncpg.RaiseError, match="1 idempotency row"):  # a retry could still be answered
            await detach_year(owner, 2024)
        async with owner.acquire() as connection, connection.transaction():  # as ledger prune does, past the horizon
            await connection.execute("SET LOCAL ledger.pruning = 'idempotency'")
            await connection.execute("DELETE FROM idempotency WHERE key = 'H1:r2'")
        year = await detach_year(owner, 2024)
        assert (year.partition, year.events, year.streams) == ("events_y2024", 5, 3)

        assert await store.list_streams() == ["A/2025"]
        with pytest.raises(asyncpg.RaiseError, match="year 2024 is archived"):
            await PostgresLedger(pool).commit([append("D/2024", 0, 1)])
        assert await archive_check(owner)() == (1, [])  # the table is still here: checked, intact

        async with owner.acquire() as connection, connection.transaction():  # a superuser edits the archive
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute(
                "UPDATE events_y2024 SET data = '{\"n\": 9}' WHERE stream_id = 'A/2024' AND version = 2"
            )
        _, edited = await archive_check(owner)()
        assert [(f.kind, f.subject) for f in edited] == [("forged_hash", "A/2024 v2")]
        assert "(archived year 2024)" in edited[0].sentence

        await owner.execute("DROP TABLE events_y2024")  # dumped and dropped
        _, (gone,) = await archive_check(owner)()
        assert gone.kind == "not_checked" and "pg_restore --table events_y2024" in gone.sentence
        report = await verify_ledger(PostgresLedger(owner), archives=archive_check(owner))
        assert "1 archived year(s)" in report.checked and any(f.kind == "not_checked" for f in report.findings)
