"""`settlement send FILE.jsonl`: publish messages as a hospital system would, print the answers.

Each line goes to claims.v1 or enrolments.v1 by its msg_type, keyed by psn_no, through an
idempotent producer (acks=all). Answers on settlements.v1 / rejections.v1 are matched to the
lines by request id, or — for a line too broken to carry one — by its topic/partition/offset.

Kafka keeps order within a partition of one topic, not across topics: an enrolment on
enrolments.v1 and the claim after it on claims.v1 may be consumed in either order. So the
file is sent in runs of consecutive lines bound for the same topic, and each run waits for
the answers to the run before it — what a hospital system does when a claim depends on an
enrolment it has just sent. Within a run, per-person order is Kafka's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from contracts.inbound import salvage_ids
from contracts.topics import Topics
from contracts.wire import UndecodableMessage, decode_json
from ops.kafka import TopicsMissing, aiokafka_options, ensure_topics
from ops.settings import CommonSettings


class SendError(Exception):
    pass


def route(line: bytes, topics: Topics = Topics()) -> tuple[str, bytes, str | None]:  # noqa: B008 (frozen)
    """(topic, key, request id) of a line; unparseable lines still go to claims.v1, keyed "unknown".
    Read with the service's own decoder, so no line can crash the sender either (deep nesting)."""
    try:
        obj = decode_json(line)
    except UndecodableMessage:
        return topics.claims, b"unknown", None
    topic = (
        topics.enrolments if obj.get("msg_type") in ("enrolment", "account_credit", "contribution") else topics.claims
    )
    ids = salvage_ids(obj)
    key = (ids["psn_no"] or "unknown").encode()
    return topic, key, ids["request_id"]


class Channel:
    """One sender's producer, and a consumer of its answer topics read from their current end
    (answers to earlier sends are not ours). With a principal, its own topics (contracts.topics)."""

    def __init__(self, settings: CommonSettings, topics: Topics, writes: set[str]) -> None:
        self.settings, self.topics, self.writes = settings, topics, writes
        options = aiokafka_options(settings)
        self.consumer = AIOKafkaConsumer(enable_auto_commit=False, **options)
        self.producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **options)

    async def __aenter__(self) -> Channel:
        try:
            async with asyncio.timeout(30):
                names = sorted(self.writes | set(self.topics.answers))
                await ensure_topics(aiokafka_options(self.settings), names, broker_time=self.writes)
                await asyncio.gather(self.consumer.start(), self.producer.start())
        except TopicsMissing as error:
            raise SendError(str(error)) from None
        except Exception as error:  # connection refused, timeout, authentication: one sentence
            reason = str(error) or type(error).__name__
            raise SendError(f"cannot reach Kafka at {self.settings.kafka_bootstrap_servers}: {reason}") from None
        try:
            await self._from_the_end()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _from_the_end(self) -> None:
        partitions = [
            TopicPartition(topic, p) for topic in self.topics.answers for p in await self.producer.partitions_for(topic)
        ]
        if not partitions:
            raise SendError(f"topics {', '.join(self.topics.answers)} have no partitions the client can see")
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)  # pin the end now, before anything is sent

    async def __aexit__(self, *_: object) -> None:
        await self.producer.stop()
        await self.consumer.stop()

    async def run(self, run: list[tuple[str, bytes, str | None, bytes]], deadline: float, out: TextIO) -> int:
        """Publish a run of (topic, key, request id, line) in order; wait for their answers.
        Returns how many were not answered by the deadline."""
        pending: set[str] = set()
        for topic, key, request_id, line in run:
            try:
                meta = await self.producer.send_and_wait(topic, line, key=key)
            except TopicAuthorizationFailedError:
                raise SendError(f"the broker refused {topic} to this principal: not its topic to write") from None
            pending.add(request_id or f"{meta.topic}/{meta.partition}/{meta.offset}")
        await _collect(self.consumer, pending, deadline, out)
        return len(pending)


async def send(path: str, settings: CommonSettings, *, wait_s: float, out: TextIO, principal: str | None = None) -> int:
    try:
        lines = [ln for ln in Path(path).read_bytes().splitlines() if ln.strip()]
    except OSError as error:
        raise SendError(f"cannot read {path}: {error.strerror}") from None
    topics = Topics(settings.kafka_topic_prefix, principal)
    routed = [(*route(line, topics), line) for line in lines]
    deadline = time.monotonic() + wait_s
    async with Channel(settings, topics, {topic for topic, *_ in routed}) as channel:
        for _, run in itertools.groupby(routed, key=lambda entry: entry[0]):
            missing = await channel.run(list(run), deadline, out)
            if missing:
                print(f"settlement send: {missing} message(s) not answered within {wait_s:.0f} s", file=sys.stderr)
                return 1
        return 0


async def _collect(consumer: AIOKafkaConsumer, pending: set[str], deadline: float, out: TextIO) -> bool:
    """Print answers until every pending key has one (True) or the deadline passes (False);
    answered keys are taken out of `pending`."""
    while pending and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                answer: dict[str, Any] = json.loads(record.value)
                key = answer.get("request_id") or answer.get("source")
                if key in pending:
                    pending.discard(key)
                    out.write(record.value.decode() + "\n")
                    out.flush()
    return not pending
