"""The follower runner applies every event exactly once, with the checkpoint in the same
transaction as the projection's rows; a tiny example projection counts events per type."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from ledger import follower
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.postgres_sql import read_all_on
from ledger.follower import FollowerRunner, SharedPages
from ledger.store import NewEvent, RecordedEvent, StreamAppend
from ledger_contract import T0, event, migrated_pool

pytestmark = pytest.mark.integration


class CountByType:
    name = "count_by_type"

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on

    async def apply(self, connection: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        rows = [(e.event_type,) for e in events]
        await connection.executemany(
            "INSERT INTO event_counts (event_type, n) VALUES ($1, 1) "
            "ON CONFLICT (event_type) DO UPDATE SET n = event_counts.n + 1",
            rows,
        )
        if any(e.event_type == self.fail_on for e in events):
            raise RuntimeError("projection bug")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    admin = await asyncpg.connect(database_url)
    async with migrated_pool(database_url, role="ledger_app") as pool:
        await admin.execute("CREATE TABLE event_counts (event_type text PRIMARY KEY, n bigint NOT NULL)")
        await admin.execute("GRANT SELECT, INSERT, UPDATE ON event_counts TO ledger_app")
        await admin.close()
        yield pool


async def seed(store: PostgresLedger, stream: str, kinds: Sequence[str]) -> None:
    events = [NewEvent(event().event_id, kind, {"i": i}, T0) for i, kind in enumerate(kinds)]
    await store.commit([StreamAppend(stream, 0, events)])


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["event_type"]: r["n"] for r in await pool.fetch("SELECT event_type, n FROM event_counts")}


async def test_the_runner_applies_the_log_in_bounded_batches_and_records_where_it_stopped(pool) -> None:
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled"] * 5 + ["ClaimReversed"] * 2)
    runner = FollowerRunner(pool, CountByType(), batch_size=3)
    assert [await runner.run_once() for _ in range(4)] == [3, 3, 1, 0]
    assert await counts(pool) == {"ClaimSettled": 5, "ClaimReversed": 2}
    assert await runner.checkpoint() == (await store.read_all(0, 100))[-1].position


async def test_a_restarted_runner_continues_from_its_checkpoint_without_double_counting(pool) -> None:
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled"] * 4)
    assert await FollowerRunner(pool, CountByType()).catch_up() == 4
    await seed(store, "P2/2025", ["ClaimSettled", "AccountCredited"])
    restarted = FollowerRunner(pool, CountByType())  # a new process: only the database remembers
    assert await restarted.catch_up() == 2
    assert await counts(pool) == {"ClaimSettled": 5, "AccountCredited": 1}


async def test_a_failing_batch_writes_neither_rows_nor_checkpoint(pool) -> None:
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled", "Poison", "ClaimSettled"])
    with pytest.raises(RuntimeError, match="projection bug"):
        await FollowerRunner(pool, CountByType(fail_on="Poison")).run_once()
    assert await counts(pool) == {}
    assert await FollowerRunner(pool, CountByType()).checkpoint() == 0


async def test_two_replicas_running_at_once_apply_each_event_once(pool) -> None:
    store = PostgresLedger(pool)
    for i in range(10):
        await seed(store, f"P{i}/2025", ["ClaimSettled"] * 3)
    replicas = [FollowerRunner(pool, CountByType(), batch_size=2) for _ in range(2)]
    stop = asyncio.Event()
    running = [asyncio.ensure_future(r.run(stop, interval_s=0.01)) for r in replicas]
    for _ in range(500):
        if await replicas[0].checkpoint() == (await store.read_all(0, 100))[-1].position:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*running)
    assert await counts(pool) == {"ClaimSettled": 30}


class FailsOnce(CountByType):
    """Its first batch fails (a database blip, say); every later batch is applied."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def apply(self, connection: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        if not self.failed:
            self.failed = True
            raise OSError("connection reset")
        await super().apply(connection, events)


async def test_the_service_loop_counts_a_failing_batch_and_carries_on_after_the_backoff(pool) -> None:
    """`ledger serve` runs each follower with FollowerRunner.run: a failure ends neither the
    loop nor the process; it is counted (the service's projection_failures metric) and the
    batch is applied on the retry, once."""
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled"] * 3)
    failures: list[str] = []
    runner, stop = FollowerRunner(pool, FailsOnce()), asyncio.Event()
    running = asyncio.ensure_future(runner.run(stop, interval_s=0.01, on_failure=lambda: failures.append("x")))
    for _ in range(500):
        if await runner.checkpoint() == (await store.read_all(0, 100))[-1].position:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await running
    assert failures == ["x"]
    assert await counts(pool) == {"ClaimSettled": 3}


class Seen:
    """A projection that keeps what it was handed, to tell a shared page from a read of its own."""

    def __init__(self, name: str) -> None:
        self.name, self.pages = name, []  # type: ignore[var-annotated]

    async def apply(self, connection: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.pages.append(list(events))


async def test_followers_at_one_checkpoint_share_the_page_read_for_the_first(pool) -> None:
    """ledger serve's followers usually stand together: one read (and one decode) serves all."""
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled"] * 4)
    pages = SharedPages()
    first, second = Seen("first"), Seen("second")
    assert await FollowerRunner(pool, first, batch_size=3, pages=pages).run_once() == 3
    assert await FollowerRunner(pool, second, batch_size=3, pages=pages).run_once() == 3
    assert all(a is b for a, b in zip(first.pages[0], second.pages[0], strict=True))  # the same objects
    alone = Seen("alone")
    assert await FollowerRunner(pool, alone, batch_size=3).run_once() == 3
    assert alone.pages[0] == first.pages[0] and alone.pages[0][0] is not first.pages[0][0]


async def test_followers_reading_at_once_wait_for_one_read_and_one_inside_a_page_takes_its_rest(
    pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled"] * 5)
    reads: list[int] = []

    async def slow_read(connection: asyncpg.Connection, after: int, limit: int) -> list[RecordedEvent]:
        reads.append(after)
        await asyncio.sleep(0.2)  # long enough for the other follower to ask for the same page meanwhile
        return await read_all_on(connection, after, limit)

    monkeypatch.setattr(follower, "read_all_on", slow_read)
    pages = SharedPages()
    first, second, behind = Seen("first"), Seen("second"), Seen("behind")
    runners = [FollowerRunner(pool, p, batch_size=10, pages=pages) for p in (first, second)]
    assert await asyncio.gather(*(r.run_once() for r in runners)) == [5, 5]
    assert reads == [0]
    assert all(a is b for a, b in zip(first.pages[0], second.pages[0], strict=True))
    # a follower whose checkpoint lies inside a full page takes the rest of it, without a read
    full = SharedPages()
    reader = Seen("reader")
    assert await FollowerRunner(pool, reader, batch_size=5, pages=full).run_once() == 5
    checkpoint = reader.pages[0][1].position
    await pool.execute("INSERT INTO projection_checkpoints (name, position) VALUES ('behind', $1)", checkpoint)
    assert await FollowerRunner(pool, behind, batch_size=3, pages=full).run_once() == 3
    assert [e is r for e, r in zip(behind.pages[0], reader.pages[0][2:], strict=True)] == [True, True, True]


async def test_a_short_page_is_shared_only_while_fresh_so_no_follower_stays_behind_new_commits(pool) -> None:
    store = PostgresLedger(pool)
    await seed(store, "P1/2025", ["ClaimSettled"] * 2)
    pages = SharedPages(fresh_s=0.2)
    first, second = Seen("first"), Seen("second")
    assert await FollowerRunner(pool, first, batch_size=10, pages=pages).run_once() == 2  # the log's end, then
    await seed(store, "P2/2025", ["ClaimSettled"])
    await asyncio.sleep(0.25)
    assert await FollowerRunner(pool, second, batch_size=10, pages=pages).run_once() == 3  # read again
