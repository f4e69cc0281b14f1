"""The one place that wires the settlement service: settings → pool, ledger, policies, broker, HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from ledger.adapters.postgres import PostgresLedger
from ledger.clearing.source import CaughtUpSource
from starlette.applications import Starlette

from contracts.topics import Topics
from engine.policy_files import load_policy_book
from ops.http import database_check, service_app
from ops.kafka import TopicsMissing, aiokafka_options, ensure_topics, faststream_security, stamped_by_sender
from ops.logging import configure_logging
from ops.metrics import SettlementMetrics
from settlement.entrypoints.consumer import Backoff, ForgetsRevokedLag, handle_batch
from settlement.entrypoints.dead_letters import DeadLetterPolicy
from settlement.entrypoints.http import counter_endpoints
from settlement.gateway.context import Deps
from settlement.gateway.http import GatewayMetrics, gateway_endpoints
from settlement.gateway.people import PersonDirectory, load_directory
from settlement.gateway.service import NationalGateway
from settlement.gateway.streaming import StreamedGateway, is_national
from settlement.senders import load_registry
from settlement.service_layer.handlers import SettlementService
from settlement.settings import SettlementSettings

log = structlog.get_logger(__name__)


async def _raw_body(message: Any) -> Any:
    """Hand the handler the bytes as they came: decoding is the service's job, so a malformed
    message becomes a rejection instead of a decoder error outside our control."""
    return message.body


@dataclass
class Running:
    """What the lifespan built: the state the HTTP routes read (ops.http, settlement.entrypoints.http)."""

    pool: asyncpg.Pool
    broker: KafkaBroker
    backoffs: tuple[Backoff, ...]  # one per consumer of the process (SETTLEMENT_CONSUMERS)
    service: SettlementService
    gateway: NationalGateway

    async def readiness(self) -> dict[str, str]:
        checks = {"database": await database_check(self.pool)}
        checks["broker"] = "ok" if await self.broker.ping(timeout=2) else "unreachable"
        retrying = [backoff for backoff in self.backoffs if not backoff.healthy]
        checks["consumer"] = f"retrying: {retrying[0].last_error}" if retrying else "ok"
        return checks

    async def refresh_metrics(self) -> None:
        """Every settlement metric is counted as it happens; nothing to read at scrape time."""


async def _tolerant_headers(records: Any, original: Any) -> Any:
    """FastStream decodes every header value as UTF-8 before our handler runs; a header of other
    bytes (or a null one) would fail the whole batch outside our control. Such a batch is parsed
    from copies with readable headers, and the handler still gets the original records."""
    try:
        return await original(records)
    except (UnicodeDecodeError, AttributeError):
        batch = records if isinstance(records, tuple) else (records,)
        readable = tuple(
            dataclasses.replace(r, headers=[(k, (v or b"").decode("utf-8", "replace").encode()) for k, v in r.headers])
            for r in batch
        )
        parsed = await original(readable if isinstance(records, tuple) else readable[0])
        parsed.raw_message = records
        return parsed


async def settlement_pool(dsn: str, max_size: int = 8) -> asyncpg.Pool:
    """The service's connections: what releasing one costs is ``keep_session``'s."""
    return await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, reset=keep_session)


async def keep_session(connection: asyncpg.Connection) -> None:
    """A connection going back to the pool: asyncpg has rolled back any open transaction; the
    rest of its default reset (advisory unlock all, CLOSE ALL, UNLISTEN *, RESET ALL) is a round
    trip on every release — every HTTP read and every group — for session state this process never
    makes: its locks are transaction-scoped (pg_advisory_xact_lock), it listens on nothing and
    sets nothing beyond a transaction. tests/integration/test_settlement_pool.py holds it to that."""


def build_broker(
    settings: SettlementSettings,
    service: SettlementService,
    metrics: SettlementMetrics,
    backoffs: tuple[Backoff, ...],
    dead: DeadLetterPolicy,
) -> KafkaBroker:
    """The consumers of the inbound topics, one per backoff: with a registry of senders, every
    principal's claims topic and enrolments.v1 by one pattern (the sender is known from the
    topic); without one, the shared claims.v1 and enrolments.v1 (local mode).

    Each consumer is a member of the group of its own, exactly as another instance would be,
    so the group's partitions are shared between them and everything proven of two instances
    (nothing lost or done twice, a rebalance, an outage) holds. They share the process's
    service and pool: while one consumer's batch waits for its commit, another's is priced,
    which one consumer alone cannot do (its next batch depends on the commit of this one)."""
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=faststream_security(settings),
        graceful_timeout=settings.shutdown_grace_seconds,
        client_id="settlement",
        # Through the JSON logs, and a line per message only at DEBUG (the metrics count them).
        logger=logging.getLogger("faststream.settlement"),
        log_level=logging.DEBUG,
    )

    topics = Topics(settings.kafka_topic_prefix)
    bound = service.senders is not None

    def subscribe(backoff: Backoff) -> None:
        @broker.subscriber(
            *([] if bound else topics.inbound),
            pattern=topics.inbound_pattern if bound else None,
            group_id=settings.settlement_consumer_group,
            batch=True,
            max_records=settings.settlement_batch_max_messages,
            batch_timeout_ms=settings.settlement_batch_max_wait_ms,
            ack_policy=AckPolicy.MANUAL,  # never FastStream's acknowledge-on-receipt
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            decoder=_raw_body,
            parser=_tolerant_headers,
            listener=ForgetsRevokedLag(metrics),
        )
        async def settle_batch(body: Any, message: KafkaMessage) -> None:
            """Settle claims and reversals, record enrolments and account credits (claims.v1,
            enrolments.v1). Every message gets exactly one answer on settlements.v1 or
            rejections.v1, relayed from the ledger's outbox."""
            await handle_batch(message, service, metrics, backoff, dead)

    for backoff in backoffs:
        subscribe(backoff)

    return broker


async def _dead_letters(settings: SettlementSettings) -> tuple[AIOKafkaProducer, DeadLetterPolicy]:
    """The producer of dead-letter copies, and the dead-letter topics made to exist if they can be."""
    topics, options = Topics(settings.kafka_topic_prefix), aiokafka_options(settings)
    try:
        async with asyncio.timeout(30):
            await ensure_topics(options, list(topics.dead_letters))
    except (TopicsMissing, TimeoutError) as error:  # a failing copy later holds its partition, so say it now
        log.error("dead_letter_topics_missing", topics=list(topics.dead_letters), error=str(error))
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", client_id="settlement-dlq", **options)
    await producer.start()
    return producer, DeadLetterPolicy(
        producer,
        topics,
        max_attempts=settings.settlement_max_message_attempts,
        retry_delay_s=settings.settlement_message_retry_seconds,
    )


async def _say_which_inputs_take_the_senders_clock(
    settings: SettlementSettings, topics: Topics, *, bound: bool
) -> None:
    """Warn at start of every input topic whose records carry the producer's timestamp: the
    service reads a record's timestamp as when the message was received (the settlement's
    occurred_at and clearing month, the refusal of a visit in a year not begun), which must be
    the broker's clock, not the sending hospital's (ops.kafka.BROKER_TIME). Never stops the
    service: an operator fixes the topic (docs/deploy.md) and the warning goes away."""
    pattern = topics.inbound_pattern if bound else "|".join(re.escape(name) for name in topics.inbound)
    options = aiokafka_options(settings)
    try:
        async with asyncio.timeout(10):
            if not bound:  # shared topics: made now, stamped by the broker, before the consumer's
                # metadata request could have a broker that auto-creates topics make them at its default
                await ensure_topics(options, list(topics.inbound), broker_time=topics.inbound)
            stamped = await stamped_by_sender(options, pattern)
    except Exception as error:  # no Create or DescribeConfigs right, a slow broker: say so, go on
        log.warning("input_topic_clock_unchecked", error=f"{type(error).__name__}: {error}")
        return
    if stamped:
        log.warning(
            "input_topics_take_the_senders_clock",
            topics=stamped,
            fix="set message.timestamp.type=LogAppendTime on them (docs/deploy.md, Topics)",
        )


def create_app(settings: SettlementSettings | None = None) -> Starlette:
    settings = settings or SettlementSettings()
    configure_logging(settings.log_level, settings.log_pseudonym_key.get_secret_value(), "settlement")
    policies = load_policy_book(settings.settlement_policies_dir)
    senders = load_registry(settings.settlement_principals_file) if settings.settlement_principals_file else None
    metrics = SettlementMetrics()
    backoffs = tuple(
        Backoff(ceiling=settings.settlement_max_retry_seconds) for _ in range(settings.settlement_consumers)
    )
    directory = load_directory(settings.settlement_persons_file) if settings.settlement_persons_file else None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Running]]:
        pool = await settlement_pool(settings.database_url.get_secret_value())
        topics = Topics(settings.kafka_topic_prefix)
        clock = lambda: datetime.now(UTC)  # noqa: E731 - the one clock of the service
        service = SettlementService(
            PostgresLedger(pool),
            policies,
            clock=clock,
            topics=topics,
            senders=senders,
            # Reconciliation (claims.v2 and the gateway's 3201/3202) reads the casemix follower's
            # entries once they hold every settlement committed before the request (bounded wait).
            clearing=CaughtUpSource(pool),
        )
        gateway = NationalGateway(Deps(service, directory or PersonDirectory()))
        service.national = (is_national, StreamedGateway(gateway))
        dead_letter_producer, dead = await _dead_letters(settings)
        await _say_which_inputs_take_the_senders_clock(settings, topics, bound=senders is not None)
        broker = build_broker(settings, service, metrics, backoffs, dead)
        await broker.start()
        log.info(
            "started",
            policies=len(policies.policies),
            group=settings.settlement_consumer_group,
            consumers=settings.settlement_consumers,
            senders=len(senders.principals) if senders else "shared topics",
        )
        try:
            yield {"running": Running(pool, broker, backoffs, service, gateway)}
        finally:
            log.info("stopping", grace_s=settings.shutdown_grace_seconds)
            await broker.stop()  # waits for the batch in hand to finish and commit
            await dead_letter_producer.stop()
            await pool.close()
            log.info("stopped")

    endpoints = counter_endpoints(metrics, max_body=settings.http_max_body_bytes)
    endpoints += gateway_endpoints(GatewayMetrics(metrics.registry), max_body=settings.http_max_body_bytes)
    return service_app(settings, metrics.registry, endpoints, lifespan)
