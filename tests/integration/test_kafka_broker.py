"""Smoke test: the broker the project starts (or the one KAFKA_BOOTSTRAP_SERVERS names) takes
and gives back messages through aiokafka, with the producer settings the outbox relay uses.
What the services rely on Kafka for is tested through their own code (tests/e2e,
tests/integration/test_ledger_outbox.py), not here.

Every wait is bounded: a broken broker fails a test, it never hangs the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

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
