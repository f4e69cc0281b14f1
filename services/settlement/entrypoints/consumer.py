"""The Kafka side: claims.v1 and enrolments.v1 in bounded batches, offsets committed only after
every message of the batch has its answer committed in the ledger.

A transient failure (database or broker unreachable) rewinds the batch — each partition to its
earliest offset in it — and waits with exponential backoff; the redelivered messages that were
already answered get their stored answers (idempotency), so nothing is lost or done twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import TopicPartition

from contracts.results import Rejection
from ops.metrics import SettlementMetrics
from settlement.service_layer.handlers import RetriesExhausted, SettlementService

log = structlog.get_logger(__name__)


@dataclass
class Backoff:
    ceiling: float
    failures: int = 0
    healthy: bool = True
    last_error: str = field(default="")

    def next_delay(self) -> float:
        self.failures += 1
        self.healthy = False
        return float(min(self.ceiling, 0.2 * 2 ** min(self.failures, 16)))

    def reset(self) -> None:
        self.failures, self.healthy, self.last_error = 0, True, ""


# Failures that pass: the database or broker unreachable, restarting or overloaded, a lost race.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    RetriesExhausted,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
)


def received_at(record: Any) -> datetime:
    """When Kafka took the message (its record timestamp): the same on every redelivery, so a
    message answered again after a crash gets the same answer, byte for byte."""
    timestamp = getattr(record, "timestamp", None)
    if isinstance(timestamp, int) and timestamp > 0:
        return datetime.fromtimestamp(timestamp / 1000, UTC)
    return datetime.now(UTC)


async def process_batch(service: SettlementService, records: tuple[Any, ...], metrics: SettlementMetrics) -> None:
    """Answer every record in order; raises on a transient failure before anything is acked."""
    metrics.batch_size.observe(len(records))
    for record in records:
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            topic=record.topic, partition=record.partition, offset=record.offset
        ):
            source, at = f"{record.topic}/{record.partition}/{record.offset}", received_at(record)
            try:
                reply = await service.handle(record.value or b"", source=source, received_at=at, topic=record.topic)
            except TRANSIENT:
                raise  # the batch is rewound and retried: nothing of it is acknowledged
            except Exception as error:  # a bug must not hold the partition forever
                if not await service.ledger_reachable():
                    raise  # an outage in a form not listed in TRANSIENT: retried like one
                log.error("message_failed", error=f"{type(error).__name__}: {error}", exc_info=True)
                metrics.unhandled.inc()
                reply = await service.reject_unhandled(
                    record.value or b"", error, source=source, at=at, topic=record.topic
                )
        metrics.latency.observe(time.perf_counter() - started)
        outcome = reply.code.value if isinstance(reply, Rejection) else "ok"
        metrics.messages.labels(reply.msg_type, outcome).inc()


async def record_lag(consumer: Any, metrics: SettlementMetrics) -> None:
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        position = await consumer.position(tp)
        metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, high - position))


def rewind(consumer: Any, records: tuple[Any, ...]) -> None:
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(earliest.get(tp, record.offset), record.offset)
    for tp, offset in earliest.items():
        consumer.seek(tp, offset)


async def handle_batch(message: Any, service: SettlementService, metrics: SettlementMetrics, backoff: Backoff) -> None:
    """FastStream batch handler body (ack_policy MANUAL)."""
    raw = message.raw_message
    records = raw if isinstance(raw, tuple) else (raw,)
    try:
        await process_batch(service, records, metrics)
    except Exception as error:  # transient or not, nothing of the batch is acknowledged
        delay = backoff.next_delay()
        backoff.last_error = f"{type(error).__name__}: {error}"
        metrics.transient_failures.inc()
        log.warning(
            "batch_rewound",
            error=backoff.last_error,
            retry_in_s=delay,
            size=len(records),
            exc_info=not isinstance(error, OSError | ConnectionError | TimeoutError),
        )
        rewind(message.consumer, records)
        await asyncio.sleep(delay)
        return
    await message.ack()  # commits the consumer's positions: everything in this batch
    backoff.reset()
    await record_lag(message.consumer, metrics)
