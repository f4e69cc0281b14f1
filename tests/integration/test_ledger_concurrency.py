"""Concurrent writers on PostgreSQL: exactly one wins a stream version, never a deadlock.

To make the race certain rather than likely, a superuser holds a SHARE lock on events: reads
go through, inserts wait. Both writers read the same stream head, queue at the insert, and
the lock is released only once both are waiting — then the unique index must decide.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import asyncpg
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.errors import BatchRefused, DuplicateRequest, WrongExpectedVersion
from ledger_contract import append, claim, migrated_pool, request

pytestmark = pytest.mark.integration
OPEN_2025 = "SELECT ledger_add_year(2025::smallint)"  # the partition of the streams raced for (migration 0011)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresLedger]:
    async with migrated_pool(database_url, role="ledger_app", size=6) as pool:
        await pool.execute(OPEN_2025)  # made before a race, not by the first racer while the gate holds the log
        yield PostgresLedger(pool)


async def race(dsn: str, writers: Sequence[Awaitable[Any]]) -> list[Any]:
    """Run the writers together, all held at their INSERT until every one of them got there."""
    gate = await asyncpg.connect(dsn)
    try:
        transaction = gate.transaction()
        await transaction.start()
        await gate.execute("LOCK TABLE events IN SHARE MODE")
        tasks = [asyncio.ensure_future(w) for w in writers]
        for _ in range(500):
            waiting = await gate.fetchval(
                "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted"
            )
            if waiting == len(tasks):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the writers never reached their insert")
        await transaction.rollback()
        return await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await gate.close()


async def test_two_writers_expecting_the_same_version_exactly_one_wins(store, database_url) -> None:
    await store.commit([append("P1/2025", 0, 2)])
    outcomes = await race(database_url, [store.commit([append("P1/2025", 2, 1)]) for _ in range(2)])
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(lost) == 1 and isinstance(lost[0], WrongExpectedVersion)
    assert (lost[0].stream_id, lost[0].expected, lost[0].actual) == ("P1/2025", 2, 3)
    assert isinstance(lost[0].__cause__, asyncpg.UniqueViolationError)  # decided by the index, not the pre-check
    assert [e.version for e in await store.read_stream("P1/2025")] == [1, 2, 3]


async def test_many_writers_on_one_stream_leave_an_unbroken_chain(store) -> None:
    async def writer(n: int) -> int:
        wins = 0
        for _ in range(n):
            for _attempt in range(50):
                version, _ = await store.read_projection("hot/2025")
                try:
                    await store.commit([append("hot/2025", version, 1)])
                    wins += 1
                    break
                except WrongExpectedVersion:
                    continue
        return wins

    assert sum(await asyncio.gather(*(writer(10) for _ in range(5)))) == 50
    events = await store.read_stream("hot/2025")
    assert [e.version for e in events] == list(range(1, 51))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    positions = [e.position for e in await store.read_all(0, 100)]
    assert positions == sorted(positions) == [e.position for e in events]  # log order = stream order


async def test_the_same_request_sent_twice_at_once_is_recorded_once(store, database_url) -> None:
    writers = [store.commit([append(f"P{i}/2025", 0)], request=request("H1:r1")) for i in range(2)]
    outcomes = await race(database_url, writers)
    assert sum(isinstance(o, DuplicateRequest) for o in outcomes) == 1
    assert len(await store.read_all(0, 100)) == 1


async def test_commits_touching_the_same_streams_in_opposite_order_do_not_deadlock(store, database_url) -> None:
    streams = [f"S{i:03d}/2025" for i in range(300)]  # long enough for the two inserts to overlap
    forward = store.commit([append(s, 0) for s in streams])
    backward = store.commit([append(s, 0) for s in reversed(streams)])
    outcomes = await asyncio.wait_for(race(database_url, [forward, backward]), timeout=10)
    assert sorted(type(o).__name__ for o in outcomes) == ["CommitReceipt", "WrongExpectedVersion"]


async def test_two_batches_racing_for_one_stream_the_loser_names_it_and_what_else_would_commit(
    store, database_url
) -> None:
    """Two instances after a rebalance: both priced A at version 1. The index decides; the loser
    re-reads in a new transaction and reports the stale stream, its committed version, and the
    requests that would still commit (its request on B)."""
    await store.commit([append("A/2025", 0, 1)])
    one = store.commit_batch([claim("H1:r1", append("A/2025", 1, 1))])
    other = store.commit_batch([claim("H2:r1", append("B/2025", 0, 1)), claim("H2:r2", append("A/2025", 1, 2))])
    outcomes = await race(database_url, [one, other])
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(lost) == 1 and isinstance(lost[0], BatchRefused), outcomes
    assert isinstance(lost[0].__cause__, asyncpg.UniqueViolationError)  # decided by the index, then re-read
    if len(lost[0].refusals) == 1 and 0 in lost[0].refusals:  # the one-request batch lost
        assert lost[0].stale == {"A/2025": 3} and lost[0].accepted == ()
    else:  # the two-request batch lost: only its request on A
        assert sorted(lost[0].refusals) == [1] and lost[0].stale == {"A/2025": 2} and lost[0].accepted == (0,)
    events = await store.read_stream("A/2025")
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
