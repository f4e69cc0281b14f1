"""The product on the real servers, for the end-to-end tests: settlement service processes,
the ledger service (outbox relay, audits), a hospital system's producer, and the offline CLI
as the reference.

Every test gets its own database and its own topics (a unique KAFKA_TOPIC_PREFIX), so tests
never see each other's messages. Both services run as real processes (`settlement serve`,
`ledger serve`), so they can be stopped with SIGTERM or SIGKILL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from io import StringIO
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from settlement.entrypoints import offline
from settlement.entrypoints.send import route, send
from settlement.senders import Registry, load_registry

from contracts.topics import Topics
from devservers.stack import (
    REGISTRY,
    KafkaAccess,
    Launcher,
    Service,
    kafka_access,
    metric,
    prepare_topics,
    principal_of,
    send_as_principals,
    service_user,
)
from ops.kafka import aiokafka_options
from ops.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
PLATFORM = "regional-platform"  # examples/principals.toml
MONEY_FIELDS = ("setlinfo", "setldetail", "items", "code", "setl_id", "case_payment")


def figures(answer: dict[str, Any]) -> dict[str, Any]:
    """What an answer says about money and identity (not when it was produced)."""
    return {name: answer.get(name) for name in MONEY_FIELDS}


def by_request(answers: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a.get("request_id") or a.get("source") or "?": a for a in answers}


def money_totals(totals: dict[str, Any]) -> dict[str, Any]:
    """An annual-totals view without its bookkeeping of who asked when."""
    return {k: v for k, v in totals.items() if k not in ("event_id", "occurred_at", "as_of")}


@dataclass
class Stack:
    database_url: str
    bootstrap: str
    folder: Path
    topics: Topics = field(default_factory=lambda: Topics(f"e2e-{uuid.uuid4().hex[:10]}."))
    group: str = field(default_factory=lambda: f"settlement-e2e-{uuid.uuid4().hex[:8]}")
    launcher: Launcher = field(init=False)
    ledger: Service | None = None
    kafka: KafkaAccess = field(init=False)
    registry: Registry | None = field(init=False)

    def __post_init__(self) -> None:
        # On the local broker: SASL_SSL, each sender on its own topics (examples/principals.toml).
        self.kafka = kafka_access(self.bootstrap)
        self.registry = load_registry(REGISTRY) if self.kafka.secure else None
        env = {
            **self.kafka.env(service_user()),
            "DATABASE_URL": self.database_url,
            "KAFKA_TOPIC_PREFIX": self.topics.prefix,
            "SETTLEMENT_CONSUMER_GROUP": self.group,
            "LOG_LEVEL": "INFO",
            # The tests call as few subjects, many times: a rate limit of their own where tested.
            "HTTP_RATE_LIMIT_PER_SECOND": "10000",
            "HTTP_RATE_LIMIT_BURST": "100000",
            **({"SETTLEMENT_PRINCIPALS_FILE": str(REGISTRY)} if self.registry else {}),
        }
        self.launcher = Launcher(env, self.folder)

    # -- servers ----------------------------------------------------------------------------

    @property
    def settings(self) -> CommonSettings:
        """The services' own Kafka settings (a super user on the local broker)."""
        return cast(CommonSettings, self.kafka.settings(service_user(), self.topics.prefix))

    def as_principal(self, principal: str) -> CommonSettings:
        return cast(CommonSettings, self.kafka.settings(principal, self.topics.prefix))

    @property
    def answer_topics(self) -> list[str]:
        if self.registry is None:
            return list(self.topics.answers)
        return [t for name in self.registry.principals for t in self.topics.of(name).answers]

    async def create_topics(self, partitions: int, *, senders_clock: bool = False) -> None:
        await prepare_topics(self.kafka, self.topics, self.registry, partitions, senders_clock=senders_clock)

    async def start_settlement(self, **extra: str) -> Service:
        return await self.launcher.start_ready("settlement", **extra)

    async def start_ledger(self, **extra: str) -> Service:
        """`ledger serve`: the outbox relay that publishes the answers, and the audit HTTP."""
        self.ledger = await self.launcher.start_ready("ledger", LEDGER_RELAY_INTERVAL_MS="20", **extra)
        return self.ledger

    def kill(self, service: Service) -> None:
        self.launcher.kill(service)

    def stop(self, service: Service) -> int:
        return self.launcher.stop(service)

    async def close(self) -> None:
        self.launcher.stop_all(grace=0)

    # -- a hospital system ------------------------------------------------------------------

    async def send(self, lines: Sequence[str], wait_s: float = 90) -> list[dict[str, Any]]:
        """`settlement send`: publish in order, wait for each run's answers."""
        path = self.folder / f"send-{uuid.uuid4().hex[:6]}.jsonl"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        out = StringIO()
        if self.registry is None:
            code = await send(str(path), self.settings, wait_s=wait_s, out=out)
        else:
            encoded = [line.encode() for line in lines]
            code = await send_as_principals(encoded, self.kafka, self.topics, self.registry, wait_s=wait_s, out=out)
        answers = [json.loads(line) for line in out.getvalue().splitlines()]
        assert code == 0, f"not every message was answered; got {len(answers)}:\n{self.logs()}"
        return answers

    async def produce(
        self, lines: Sequence[str], principal: str = PLATFORM, *, sent_at: Sequence[datetime] | None = None
    ) -> None:
        """Publish without waiting for answers, keyed by person, as `send` routes them: claims
        through one principal's topic (the regional platform's, which speaks for every
        institution), so each person's visits are consumed in the order they were sent.
        ``sent_at``: each line's Kafka timestamp (the day it is received), else now; it holds
        only on topics made with ``senders_clock`` (elsewhere the broker stamps its own time)."""
        stamps: Sequence[datetime | None] = sent_at if sent_at is not None else [None] * len(lines)
        assert len(stamps) == len(lines)
        by_sender: dict[str | None, list[tuple[str, datetime | None]]] = {}
        for line, stamp in zip(lines, stamps, strict=True):
            sender = None
            if self.registry is not None:
                enrolment_fact = principal_of(line.encode(), self.registry) == self.registry.enrolment_system.name
                sender = self.registry.enrolment_system.name if enrolment_fact else principal
            by_sender.setdefault(sender, []).append((line, stamp))
        for sender, own in by_sender.items():
            options = aiokafka_options(self.as_principal(sender) if sender else self.settings)
            producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **options)
            await producer.start()
            try:
                for line, stamp in own:
                    topic, key, _ = route(line.encode(), self.topics.of(sender))
                    timestamp_ms = int(stamp.timestamp() * 1000) if stamp else None
                    await producer.send(topic, line.encode(), key=key, timestamp_ms=timestamp_ms)
                await producer.flush()
            finally:
                await producer.stop()

    async def all_answers(self, expected: int, timeout: float = 120) -> list[dict[str, Any]]:
        """Every record on the answer topics from the beginning, once at least `expected` arrived
        and nothing more came for a moment (so a duplicate would be seen, not missed)."""
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(self.settings))
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in self.answer_topics
                for p in (consumer.partitions_for_topic(topic) or await self._partitions(topic))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            answers: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                got = [json.loads(r.value) for records in batch.values() for r in records]
                if got:
                    answers += got
                    quiet_since = time.monotonic()
                elif len(answers) >= expected and time.monotonic() - quiet_since > 1.5:
                    return answers
            raise AssertionError(f"{len(answers)} of {expected} answers within {timeout} s:\n{self.logs()}")
        finally:
            await consumer.stop()

    async def group_assignments(self) -> list[set[TopicPartition]]:
        """The partitions each member of the settlement consumer group holds, as the broker says."""
        admin = AIOKafkaAdminClient(**aiokafka_options(self.settings))
        await admin.start()
        try:
            responses = await admin.describe_consumer_groups([self.group])
        finally:
            await admin.close()
        members = [member for response in responses for group in response.groups for member in group[5]]
        return [set(ConsumerProtocolMemberAssignment.decode(member[-1]).partitions()) for member in members]

    async def _partitions(self, topic: str) -> set[int]:
        producer = AIOKafkaProducer(**aiokafka_options(self.settings))
        await producer.start()
        try:
            return set(await producer.partitions_for(topic))
        finally:
            await producer.stop()

    def bearer(self, role: str, *institutions: str) -> dict[str, str]:
        """An Authorization header with a local token (see devservers.issuer)."""
        return self.launcher.bearer(role, *institutions)

    async def totals(self, service: Service, psn_no: str, year: int = 2025) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10, headers=self.bearer("auditor")) as client:
            reply = await client.get(service.url(f"/v1/persons/{psn_no}/years/{year}/totals"))
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    async def metric(self, service: Service, name: str) -> float:
        """The sum of a Prometheus metric's samples on the service's /metrics."""
        async with httpx.AsyncClient(timeout=10, headers=self.bearer("operator")) as client:
            text = (await client.get(service.url("/metrics"))).text
        return metric(text, name)

    async def count_events(self, event_type: str) -> int:
        connection = await asyncpg.connect(self.database_url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM events WHERE event_type = $1", event_type))
        finally:
            await connection.close()

    def logs(self) -> str:
        return self.launcher.logs_tail()


def topic_runs(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(lines bound for enrolments.v1, lines bound for claims.v1), each in file order."""
    enrolments = [ln for ln in lines if route(ln.encode())[0] == Topics().enrolments]
    claims = [ln for ln in lines if route(ln.encode())[0] == Topics().claims]
    return enrolments, claims


async def offline_reference(
    lines: Sequence[str], folder: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The offline CLI on the same lines: (answers by request id, annual totals by person)."""
    path = folder / f"offline-{uuid.uuid4().hex[:6]}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = StringIO()
    code = await offline.price(str(path), str(POLICIES), totals=True, summary=False, out=out)
    assert code == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    totals = {r["psn_no"]: r for r in records if r["msg_type"] == "annual_totals"}
    answers = [r for r in records if r["msg_type"] != "annual_totals"]
    return by_request(answers), totals
