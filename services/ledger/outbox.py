"""The outbox relay: messages committed with the events that caused them, published to Kafka.

At-least-once: a batch is produced, acknowledged by every in-sync replica (acks="all", an
idempotent producer so the broker drops its own retries), and only then marked published in
the same transaction that read it. A crash between the two republishes the batch; consumers
drop the repeat by the ``message_id`` header. One relay at a time (an advisory lock), reading
in position order, so each key's messages reach their partition in commit order.

The relay wakes on commit: migration 0010's statement trigger on outbox NOTIFYs
``ledger_outbox`` when a transaction that wrote outbox rows commits, and ``CommitSignal``
LISTENs on a connection of its own. Without that connection (lost, or the database down) it
falls back to polling at the relay interval; with it, it polls only every FALLBACK_POLL_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from ledger.loop import run_until_stopped

log = structlog.get_logger(__name__)
RELAY_LOCK = (7_312_020, 1)  # pg_try_advisory_xact_lock pair: "ledger outbox relay"
MAX_BATCH = 10_000
CHANNEL = "ledger_outbox"  # NOTIFY'd by migration 0010's trigger when outbox rows commit
FALLBACK_POLL_S = 1.0  # while listening, a poll this often still catches a notification lost in transit

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

    async def run(
        self,
        stop: asyncio.Event,
        interval_s: float,
        *,
        on_published: Callable[[int], None] = lambda count: None,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        """Relay until ``stop`` is set, as `ledger serve` does: again at once after a full batch,
        else when a commit wakes it (or the poll comes due); a failed batch is logged, counted
        (``on_failure``) and retried after a growing backoff (ledger.loop)."""
        signal = CommitSignal(self._pool)

        async def step() -> int:
            published = await self.relay_once()
            on_published(published)
            return published

        try:
            await run_until_stopped(
                "outbox_relay",
                step,
                stop,
                interval_s=interval_s,
                full=self._batch,
                on_failure=on_failure,
                idle=lambda: signal.wait(stop, interval_s),
            )
        finally:
            await signal.close()


class CommitSignal:
    """LISTEN ledger_outbox on a pooled connection held for the purpose; ``wait`` returns when
    a commit wrote outbox rows, ``stop`` is set, or the poll is due. A notification that arrives
    while the relay is busy is kept, so the next wait returns at once: none is lost between a
    relay pass and the wait after it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._connection: Any = None  # the pool's connection proxy, while listening
        self._woken = asyncio.Event()

    @property
    def listening(self) -> bool:
        if self._connection is None:
            return False
        try:
            return not self._connection.is_closed()
        except asyncpg.InterfaceError:  # the pool took back a connection the server closed
            return False

    async def listen(self) -> bool:
        """Start listening if not yet; False (and polling) while the database cannot be reached.
        Never raises: a relay that cannot listen still relays, by polling."""
        if self.listening:
            return True
        await self.close()
        connection = None
        try:
            connection = await self._pool.acquire()
            await connection.add_listener(CHANNEL, self._notified)
            connection.add_termination_listener(self._notified)  # a cut connection wakes the relay too
        except Exception as error:  # a dead pooled connection raises InterfaceError, not PostgresError
            log.warning("outbox_listen_failed", error=f"{type(error).__name__}: {error}")
            if connection is not None:
                with contextlib.suppress(Exception):
                    await self._pool.release(connection)
            return False
        self._connection = connection
        self._woken.set()  # rows committed before the LISTEN took effect: look once
        return True

    def _notified(self, *_: object) -> None:
        self._woken.set()

    async def wait(self, stop: asyncio.Event, interval_s: float) -> None:
        """Never raises: the relay loop must outlive the database (an outage means polling)."""
        timeout = FALLBACK_POLL_S if await self.listen() else interval_s
        stopping = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait((stopping, woken), timeout=max(timeout, interval_s), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            woken.cancel()
        self._woken.clear()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):  # a dropped connection is released all the same
            connection.remove_termination_listener(self._notified)
            await connection.remove_listener(CHANNEL, self._notified)
        with contextlib.suppress(Exception):
            await self._pool.release(connection)
