"""A follower of read_all never skips an event that commits late (the bigserial gap trap).

With a plain sequence, a slow transaction takes position 5, a fast one takes 6 and commits
first; a follower reads 6, moves its cursor to 6 and never sees 5. Here the slow writer holds
its transaction open while others append and commit, and a follower polls all along.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.store import RecordedEvent
from ledger_contract import append, migrated_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database_url, role="ledger_app", size=6) as pool:
        await pool.execute("SELECT ledger_add_year(2025::smallint)")  # before the writers race (migration 0011)
        yield pool


class Follower:
    def __init__(self, store: PostgresLedger) -> None:
        self.store, self.cursor, self.seen = store, 0, list[RecordedEvent]()

    async def poll(self) -> None:
        while page := await self.store.read_all(self.cursor, 3):
            self.seen += page
            self.cursor = page[-1].position


async def test_a_follower_waits_for_a_slow_commit_and_then_sees_it(pool) -> None:
    store = PostgresLedger(pool)
    await store.commit([append("early/2025", 0, 2)])
    follower = Follower(store)
    await follower.poll()
    assert len(follower.seen) == 2

    async with pool.acquire() as slow:
        transaction = slow.transaction()
        await transaction.start()
        slow_positions = await store.write(slow, [append("slow/2025", 0, 2)])
        for i in range(3):  # others append and commit while the slow one is still open
            await store.commit([append(f"fast{i}/2025", 0, 1)])
            await follower.poll()
            assert follower.cursor < slow_positions[0], "the follower moved past an uncommitted event"
        assert [len(await store.read_stream(f"fast{i}/2025")) for i in range(3)] == [1, 1, 1]  # committed
        await asyncio.sleep(0.2)
        await follower.poll()
        assert len(follower.seen) == 2
        await transaction.commit()

    await follower.poll()
    everything = await store.read_all(0, 100)
    assert follower.seen == everything
    assert [e.stream_id for e in follower.seen][2:4] == ["slow/2025", "slow/2025"]
    assert len(everything) == 7


async def test_an_open_transaction_in_another_database_does_not_hold_the_follower_back(
    pool, postgres_admin_dsn: str
) -> None:
    store = PostgresLedger(pool)
    elsewhere = await asyncpg.connect(postgres_admin_dsn)  # the server's `postgres` database
    try:
        transaction = elsewhere.transaction()
        await transaction.start()
        await elsewhere.fetchval("SELECT pg_current_xact_id()")  # holds a transaction id, and stays open
        await store.commit([append("P1/2025", 0, 2)])
        assert len(await store.read_all(0, 100)) == 2
        await transaction.rollback()
    finally:
        await elsewhere.close()


async def test_reading_the_log_refuses_a_snapshot_that_would_not_see_late_commits(pool) -> None:
    async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read"):
        with pytest.raises(asyncpg.RaiseError, match="needs READ COMMITTED"):
            await connection.fetch("SELECT * FROM ledger_read_all(0, 10)")


async def test_a_rolled_back_transaction_leaves_no_hole_the_follower_waits_on(pool) -> None:
    store = PostgresLedger(pool)
    follower = Follower(store)
    async with pool.acquire() as doomed:
        transaction = doomed.transaction()
        await transaction.start()
        await store.write(doomed, [append("doomed/2025", 0, 1)])
        await store.commit([append("after/2025", 0, 1)])
        await transaction.rollback()
    await follower.poll()
    assert [e.stream_id for e in follower.seen] == ["after/2025"]


async def test_concurrent_writers_and_a_polling_follower_agree_on_the_whole_log(pool) -> None:
    store = PostgresLedger(pool)
    follower = Follower(store)

    async def writer(name: str) -> None:
        for version in range(0, 40, 2):
            await store.commit([append(f"{name}/2025", version, 2)])

    writers = asyncio.gather(*(writer(f"w{i}") for i in range(4)))
    while not writers.done():
        await follower.poll()
        await asyncio.sleep(0)
    await writers
    await follower.poll()
    assert follower.seen == await store.read_all(0, 1000)
    assert len(follower.seen) == 160
