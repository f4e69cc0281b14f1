"""The outbox relay: messages committed with the events that caused them, published to Kafka.

At-least-once: a batch is produced, acknowledged by every in-sync replica (acks="all", an
idempotent producer so the broker drops its own retries), and only then marked published in
the same transaction that read it. A crash between the two republishes the batch; consumers
drop the repeat by the ``message_id`` header. One relay at a time (an advisory lock), reading
in position order, so each key's messages reach their partition in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

log = structlog.get_logger(__name__)
RELAY_LOCK = (7_312_020, 1)  # pg_try_advisory_xact_lock pair: "ledger outbox relay"
MAX_BATCH = 10_000

PENDING = """
SELECT message_id, topic, key, value, headers::text AS headers FROM outbox
 WHERE published_at IS NULL ORDER BY position LIMIT $1
"""
MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE message_id = ANY($1::uuid[]) AND published_at IS NULL"


class Producer(Protocol):
    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, *, headers: Any = None
    ) -> asyncio.Future[Any]: ...


def idempotent_producer(**options: Any) -> AIOKafkaProducer:
    """The producer the relay needs (options: ops.kafka.aiokafka_options(settings))."""
    return AIOKafkaProducer(enable_idempotence=True, acks="all", **options)


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, producer: Producer, *, batch_size: int = 500) -> None:
        assert 0 < batch_size <= MAX_BATCH
        self._pool, self._producer, self._batch = pool, producer, batch_size

    async def relay_once(self) -> int:
        """Publish at most one batch; returns how many messages were published (0: none or busy)."""
        async with self._pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", *RELAY_LOCK):
                return 0  # another replica is relaying
            rows = await connection.fetch(PENDING, self._batch)
            if not rows:
                return 0
            sent = []
            for row in rows:
                headers = [(k, v.encode()) for k, v in json.loads(row["headers"]).items() if k != "message_id"]
                headers.append(("message_id", str(row["message_id"]).encode()))
                sent.append(await self._producer.send(row["topic"], row["value"], row["key"].encode(), headers=headers))
            await asyncio.gather(*sent)  # every message acknowledged, or the batch stays unpublished
            marked = await connection.execute(MARK_PUBLISHED, [row["message_id"] for row in rows])
            assert marked == f"UPDATE {len(rows)}", marked
            return len(rows)

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Relay until ``stop`` is set; a failed batch is logged and retried after the interval."""
        while not stop.is_set():
            try:
                published = await self.relay_once()
            except Exception as error:  # the relay must outlive a broker or database outage
                log.error("outbox_relay_failed", error=f"{type(error).__name__}: {error}")
                published = 0
            if published < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
