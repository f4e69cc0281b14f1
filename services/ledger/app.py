"""The ledger service (`ledger serve`): the outbox relay, the follower projections, and HTTP
for auditors (replay, verify) and for Kubernetes (healthz, readyz, metrics).

Several replicas may run: the relay and each projection take a PostgreSQL advisory lock per
batch, so exactly one replica does each piece of work at a time and the others stand by.
A Kafka or database outage is logged, counted and retried with backoff; it never ends the
process. SIGTERM stops the loops between batches and closes the producer and the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from starlette.applications import Starlette

from contracts.topics import Topics
from engine.policy_book import PolicyBook
from engine.policy_files import load_policy_book
from ledger.adapters.postgres import PostgresLedger
from ledger.adapters.queries import progress
from ledger.clearing.audit import Check, clearing_check
from ledger.clearing.commands import ClearingCommands
from ledger.clearing.http import clearing_endpoints
from ledger.clearing.source import ProjectionSource
from ledger.entrypoints.http import audit_endpoints
from ledger.follower import FollowerRunner, SharedPages, all_projections, verify_followers
from ledger.loop import backoff_s, sleep_or_stop
from ledger.outbox import OutboxRelay, idempotent_producer
from ledger.settings import LedgerSettings
from ops.http import database_check, service_app
from ops.kafka import TopicsMissing, aiokafka_options, ensure_topics
from ops.logging import configure_logging
from ops.metrics import LedgerMetrics

log = structlog.get_logger(__name__)


@dataclass
class Running:
    """What the lifespan built: the state the HTTP routes read (ops.http, ledger.entrypoints.http)."""

    pool: asyncpg.Pool
    store: PostgresLedger
    policies: PolicyBook | None
    producer: AIOKafkaProducer
    followers: list[FollowerRunner]
    metrics: LedgerMetrics
    producer_up: bool = False
    verify_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def verify_followers(self) -> list[str]:
        return await verify_followers(self.pool)

    def clearing_commands(self) -> ClearingCommands:
        return ClearingCommands(
            self.store, ProjectionSource(self.pool), self.policies or PolicyBook(), lambda: datetime.now(UTC)
        )

    def verify_clearing(self) -> Check:
        return clearing_check(self.store, self.pool, self.policies)

    async def readiness(self) -> dict[str, str]:
        checks = {"database": await database_check(self.pool)}
        if not self.producer_up:
            checks["broker"] = "not connected"
        else:
            try:
                async with asyncio.timeout(2):
                    await self.producer.client.fetch_all_metadata()
                checks["broker"] = "ok"
            except Exception as error:  # readiness reports, it never raises
                checks["broker"] = f"unreachable: {type(error).__name__}"
        return checks

    async def refresh_metrics(self) -> None:
        """The outbox backlog and each follower's lag, read when /metrics is scraped."""
        try:
            now = await progress(self.pool)
        except (asyncpg.PostgresError, OSError):
            return  # the gauges keep their last values; readyz tells of the outage
        self.metrics.outbox_backlog.set(now.outbox_backlog)
        for follower in self.followers:
            name = follower.projection.name
            self.metrics.projection_lag.labels(name).set(now.lag(name))


async def _relay(running: Running, settings: LedgerSettings, metrics: LedgerMetrics, stop: asyncio.Event) -> None:
    interval = settings.ledger_relay_interval_ms / 1000

    failures = 0
    while not stop.is_set() and not running.producer_up:
        try:
            await running.producer.start()
            running.producer_up = True
        except Exception as error:  # the broker may come up after us
            failures += 1
            delay = backoff_s(failures)
            log.warning("kafka_connect_failed", error=f"{type(error).__name__}: {error}", retry_in_s=round(delay, 2))
            await sleep_or_stop(stop, delay)
    if stop.is_set():
        return
    await _ensure_clearing_topic(settings)
    relay = OutboxRelay(running.pool, running.producer, batch_size=settings.ledger_outbox_batch)
    # Wakes on commit (LISTEN), polls only as a fallback; backs off while Kafka or the database is down.
    await relay.run(stop, interval, on_published=metrics.relayed.inc, on_failure=metrics.relay_failures.inc)


async def _ensure_clearing_topic(settings: LedgerSettings) -> None:
    """The clearing commands' answers go to clearing.v1 through this relay, which publishes in
    log order: a topic that does not exist would hold every later answer back. Create it if
    the cluster lets us; otherwise say which topic an operator must create."""
    topic = Topics(settings.kafka_topic_prefix).clearing
    try:
        await ensure_topics(aiokafka_options(settings), [topic])
    except (TopicsMissing, KafkaError, OSError) as error:
        log.error("clearing_topic_missing", topic=topic, error=f"{type(error).__name__}: {error}")


async def _follow(
    runner: FollowerRunner, settings: LedgerSettings, metrics: LedgerMetrics, stop: asyncio.Event
) -> None:
    failures = metrics.projection_failures.labels(runner.projection.name)
    await runner.run(stop, interval_s=settings.ledger_projection_interval_ms / 1000, on_failure=failures.inc)


def create_app(settings: LedgerSettings | None = None) -> Starlette:
    settings = settings or LedgerSettings()
    configure_logging(settings.log_level, settings.log_pseudonym_key.get_secret_value(), "ledger")
    policies = load_policy_book(settings.ledger_policies_dir) if settings.ledger_policies_dir else None
    metrics = LedgerMetrics()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Running]]:
        pool = await asyncpg.create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=6)
        producer = idempotent_producer(client_id="ledger-outbox-relay", **aiokafka_options(settings))
        pages = SharedPages()  # each page of the log read and decoded once for every follower
        followers = [
            FollowerRunner(pool, projection, batch_size=settings.ledger_outbox_batch, pages=pages)
            for projection in all_projections()
        ]
        running = Running(pool, PostgresLedger(pool), policies, producer, followers, metrics)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_relay(running, settings, metrics, stop), name="outbox-relay")]
        tasks += [asyncio.create_task(_follow(f, settings, metrics, stop), name=f.projection.name) for f in followers]
        log.info("started", projections=[f.projection.name for f in followers], policies=bool(policies))
        try:
            yield {"running": running}
        finally:
            log.info("stopping", grace_s=settings.shutdown_grace_seconds)
            stop.set()  # loops finish the batch in hand, then return
            _done, late = await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
            for task in late:
                task.cancel()
            with contextlib.suppress(Exception):
                await producer.stop()
            await pool.close()
            log.info("stopped", cancelled=len(late))

    return service_app(settings, metrics.registry, [*audit_endpoints(metrics), *clearing_endpoints()], lifespan)
