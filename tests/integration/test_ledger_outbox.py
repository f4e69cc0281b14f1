"""The outbox relay publishes committed replies to the real broker, at least once, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from ledger.adapters.postgres import PostgresLedger
from ledger.outbox import OutboxRelay, idempotent_producer
from ledger.store import OutboxMessage
from ledger_contract import append, migrated_pool, request

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(database_url, role="ledger_app") as pool:
        yield pool


def reply(topic: str, key: str, n: int) -> OutboxMessage:
    return OutboxMessage(uuid.uuid4(), topic, key, f'{{"n":{n}}}'.encode(), {"msg_type": "settlement"})


async def settle(store: PostgresLedger, messages: list[OutboxMessage]) -> None:
    for i, message in enumerate(messages):
        await store.commit([append(f"{message.key}-{i}/2025", 0)], request=request(f"k{i}"), outbox=[message])


async def unpublished(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def consume(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        got: list[Any] = []
        async with asyncio.timeout(30):
            while len(got) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += records
        return got
    finally:
        await consumer.stop()


async def test_committed_messages_reach_the_broker_once_marked_published(
    pool, kafka_bootstrap: str, unique_topic: Callable[..., str]
) -> None:
    topic = unique_topic("ledger-outbox", partitions=2)
    messages = [reply(topic, key, n) for n, key in enumerate(["P1", "P2", "P1", "P1", "P2"])]
    await settle(PostgresLedger(pool), messages)
    producer = idempotent_producer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        relay = OutboxRelay(pool, producer, batch_size=3)
        assert [await relay.relay_once() for _ in range(3)] == [3, 2, 0]
    finally:
        await producer.stop()
    assert await unpublished(pool) == 0
    received = await consume(kafka_bootstrap, topic, len(messages))
    by_id = {str(m.message_id): m for m in messages}
    for record in received:
        headers = dict(record.headers)
        sent = by_id[headers["message_id"].decode()]
        assert (record.key, record.value, headers["msg_type"]) == (sent.key.encode(), sent.value, b"settlement")
    for key in ("P1", "P2"):  # each person's replies in commit order
        in_partition = [r.value for r in sorted(received, key=lambda r: r.offset) if r.key == key.encode()]
        assert in_partition == [m.value for m in messages if m.key == key]


class FailingProducer:
    """A hand-written fake: the broker acknowledges the first message, then is unreachable."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *, headers: Any = None):  # type: ignore[no-untyped-def]
        self.sent += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.sent == 1:
            future.set_result(None)
        else:
            future.set_exception(ConnectionError("broker unreachable"))
        return future


async def test_a_batch_the_broker_did_not_fully_acknowledge_stays_unpublished(pool) -> None:
    await settle(PostgresLedger(pool), [reply("settlements.v1", "P1", n) for n in range(3)])
    with pytest.raises(ConnectionError):
        await OutboxRelay(pool, FailingProducer()).relay_once()
    assert await unpublished(pool) == 3  # all of it is sent again next time (consumers dedupe)


class RecordingProducer:
    """A hand-written fake broker that acknowledges at once and notes when each message came."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # message_id → loop time of its send
        self.changed = asyncio.Event()

    async def send(self, topic: str, value: bytes | None = None, key: bytes | None = None, *, headers: Any = None):  # type: ignore[no-untyped-def]
        self.arrived[dict(headers)["message_id"].decode()] = asyncio.get_running_loop().time()
        self.changed.set()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def until(self, count: int) -> None:
        while len(self.arrived) < count:
            self.changed.clear()
            await self.changed.wait()


async def test_a_commit_wakes_the_relay_long_before_its_poll_is_due(pool) -> None:
    """Poll interval 30 s: a message published within 2 s came by NOTIFY (migration 0010)."""
    store, producer, stop = PostgresLedger(pool), RecordingProducer(), asyncio.Event()
    relay = asyncio.create_task(OutboxRelay(pool, producer).run(stop, interval_s=30))
    try:
        for n in range(3):  # each commit after the relay has gone idle again
            await asyncio.sleep(0.3)
            message = reply("settlements.v1", "P1", n)
            await store.commit([append(f"P1-{n}/2025", 0)], request=request(f"k{n}"), outbox=[message])
            committed = asyncio.get_running_loop().time()
            async with asyncio.timeout(2):
                await producer.until(n + 1)
            assert producer.arrived[str(message.message_id)] - committed < 2
    finally:
        stop.set()
        await relay
    assert await unpublished(pool) == 0


async def test_any_writer_of_outbox_rows_wakes_the_relay_when_it_commits(pool, database_url: str) -> None:
    """The NOTIFY comes from a trigger on the table, not from the store's code: a row inserted
    by hand wakes the relay too, once its transaction commits."""
    producer, stop = RecordingProducer(), asyncio.Event()
    relay = asyncio.create_task(OutboxRelay(pool, producer).run(stop, interval_s=30))
    writer = await asyncpg.connect(database_url)
    try:
        await asyncio.sleep(0.3)
        async with writer.transaction():
            xid = int(await writer.fetchval("SELECT pg_current_xact_id()::text::bigint"))
            await writer.execute(
                "INSERT INTO outbox (message_id, position, topic, key, value) VALUES ($1, $2, 't', 'k', '{}')",
                uuid.uuid4(), xid << 16,
            )  # fmt: skip
            await asyncio.sleep(0.3)
            assert not producer.arrived  # not committed yet: nothing to see, nobody woken
        async with asyncio.timeout(2):
            await producer.until(1)
    finally:
        stop.set()
        await relay
        await writer.close()


async def test_the_relay_outlives_its_listening_connection_being_cut(pool, postgres_admin_dsn: str) -> None:
    """The server ends every connection (a restart, a failover): the relay listens again and
    still publishes — it must not die with the connection it was listening on."""
    store, producer, stop = PostgresLedger(pool), RecordingProducer(), asyncio.Event()
    relay = asyncio.create_task(OutboxRelay(pool, producer).run(stop, interval_s=30))
    admin = await asyncpg.connect(postgres_admin_dsn)
    try:
        await asyncio.sleep(0.3)
        database = await pool.fetchval("SELECT current_database()")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        await asyncio.sleep(0.3)
        for attempt in range(20):  # the store's own pooled connections were cut too: retry as a caller would
            try:
                await store.commit([append("P1/2025", 0)], request=request("k1"), outbox=[reply("t", "P1", 1)])
                break
            except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
                await asyncio.sleep(0.1 * attempt)
        async with asyncio.timeout(5):  # the cut woke it (poll 30 s): it listens again, and the commit wakes it
            await producer.until(1)
        assert not relay.done()
    finally:
        stop.set()
        await relay
        await admin.close()
