"""The broker the project starts (or the one KAFKA_BOOTSTRAP_SERVERS names) does what the
settlement service relies on, with the client the service uses (aiokafka).

Every wait is bounded: a broken broker fails a test, it never hangs the run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.structs import TopicPartition

WAIT = 60.0  # seconds; generous for two busy cores, normally a second or two
Client = TypeVar("Client", AIOKafkaProducer, AIOKafkaConsumer)


@asynccontextmanager
async def running(client: Client) -> AsyncIterator[Client]:
    async with asyncio.timeout(WAIT):
        await client.start()
    try:
        yield client
    finally:
        async with asyncio.timeout(WAIT):
            await client.stop()


def _consumer(bootstrap: str, topic: str | None = None, **options: Any) -> AIOKafkaConsumer:
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        "heartbeat_interval_ms": 500,  # rebalances are noticed at the next heartbeat
    }
    topics = (topic,) if topic else ()
    return AIOKafkaConsumer(*topics, **(settings | options))


async def _read(consumer: AIOKafkaConsumer, until: Callable[[list[ConsumerRecord]], bool]) -> list[ConsumerRecord]:
    records: list[ConsumerRecord] = []
    async with asyncio.timeout(WAIT):
        while not until(records):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    return records


async def test_an_idempotent_producer_with_acks_all_writes_every_message_exactly_once_in_order(
    kafka_bootstrap: str, unique_topic: Callable[..., str]
) -> None:
    topic = unique_topic("idempotent")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    async with running(producer), asyncio.timeout(WAIT):
        sent = [await producer.send_and_wait(topic, f"m{i}".encode(), key=b"k") for i in range(50)]
    assert [m.offset for m in sent] == list(range(50))

    async with running(_consumer(kafka_bootstrap, topic)) as consumer:
        records = await _read(consumer, lambda got: len(got) >= 50)
        await asyncio.sleep(0.5)  # anything duplicated would arrive right behind
        records += [r for batch in (await consumer.getmany(timeout_ms=500)).values() for r in batch]
    assert [r.value for r in records] == [f"m{i}".encode() for i in range(50)]


async def test_read_committed_sees_a_committed_transaction_and_never_an_aborted_one(
    kafka_bootstrap: str, unique_topic: Callable[..., str]
) -> None:
    topic = unique_topic("transactions", partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"txn-{uuid.uuid4().hex}")
    async with running(producer), asyncio.timeout(WAIT):
        await producer.begin_transaction()
        for i in range(5):
            await producer.send_and_wait(topic, f"aborted-{i}".encode(), key=f"k{i}".encode())
        await producer.abort_transaction()
        async with producer.transaction():
            for i in range(5):
                await producer.send_and_wait(topic, f"committed-{i}".encode(), key=f"k{i}".encode())

    def all_committed(got: list[ConsumerRecord]) -> bool:
        return sum(r.value.startswith(b"committed-") for r in got) == 5

    # The committed records follow the aborted ones in each partition, so once all five are
    # read every aborted record has been passed (and must have been filtered out).
    async with running(_consumer(kafka_bootstrap, topic, isolation_level="read_committed")) as reader:
        committed = await _read(reader, all_committed)
    async with running(_consumer(kafka_bootstrap, topic, isolation_level="read_uncommitted")) as reader:
        uncommitted = await _read(reader, all_committed)
    assert sorted(r.value for r in committed) == [f"committed-{i}".encode() for i in range(5)]
    # Proof that the aborted records really reached the log: a read_uncommitted reader sees them.
    assert sum(r.value.startswith(b"aborted-") for r in uncommitted) == 5


async def test_two_consumers_in_a_group_split_the_partitions_and_the_survivor_takes_all_when_one_leaves(
    kafka_bootstrap: str, unique_topic: Callable[..., str]
) -> None:
    topic = unique_topic("group", partitions=4)
    group = f"group-{uuid.uuid4().hex}"
    everything = {TopicPartition(topic, p) for p in range(4)}
    async with running(_consumer(kafka_bootstrap, topic, group_id=group)) as first:
        async with running(_consumer(kafka_bootstrap, topic, group_id=group)) as second:

            def shared_fairly() -> bool:
                # Both must have finished the rebalance: until then the first may still hold all.
                mine, theirs = first.assignment(), second.assignment()
                return bool(mine) and bool(theirs) and not mine & theirs and mine | theirs == everything

            async with asyncio.timeout(WAIT):
                while not shared_fairly():
                    await asyncio.gather(first.getmany(timeout_ms=100), second.getmany(timeout_ms=100))
            assert len(first.assignment()) == len(second.assignment()) == 2
        # The second consumer has stopped, which sends LeaveGroup: the coordinator rebalances at once.

        async with asyncio.timeout(WAIT):
            while first.assignment() != everything:
                await first.getmany(timeout_ms=100)

        async with running(AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)) as producer, asyncio.timeout(WAIT):
            for partition in range(4):
                await producer.send_and_wait(topic, f"p{partition}".encode(), partition=partition)
        records = await _read(first, lambda got: len(got) >= 4)
        assert {r.partition for r in records} == {0, 1, 2, 3}


async def test_messages_with_the_same_key_land_in_one_partition_in_the_order_sent(
    kafka_bootstrap: str, unique_topic: Callable[..., str]
) -> None:
    topic = unique_topic("ordering", partitions=3)
    keys = [f"psn-{n}" for n in range(6)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    async with running(producer), asyncio.timeout(WAIT):
        # Fire everything before awaiting any: batches and in-flight requests interleave.
        futures = [
            await producer.send(topic, str(sequence).encode(), key=key.encode())
            for sequence in range(30)
            for key in keys
        ]
        await asyncio.gather(*futures)

    async with running(_consumer(kafka_bootstrap, topic)) as consumer:
        records = await _read(consumer, lambda got: len(got) >= 30 * len(keys))
    for key in keys:
        mine = [r for r in records if r.key == key.encode()]
        assert len({r.partition for r in mine}) == 1, key
        assert [int(r.value) for r in mine] == list(range(30)), key
