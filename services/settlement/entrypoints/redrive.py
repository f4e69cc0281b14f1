"""`settlement redrive`: publish dead letters back to the topic they came from, after a fix.

Reads ``<prefix>claims.dlq.v1`` and ``<prefix>enrolments.dlq.v1`` from where the consumer group
``settlement-redrive`` last stopped up to their current end, publishes each record's original
value, key and headers to the topic it was first read from — the sending principal's own
``claims.v1.<principal>``, or ``enrolments.v1`` — (plus ``medins.redriven_from``), and then
commits, so each dead letter is re-driven once. ``--dry-run`` lists them and commits nothing.

Why a re-driven copy is priced afresh, never answered from the stored ``internal_error``: that
answer was recorded under the failed *record's* key (``raw:sha256(bytes, topic/partition/offset)
#failed``), never under the message's idempotency key. The copy is a new record at a new offset,
so its record key differs; a message with a request id is looked up under
``fixmedins_code:request_id`` (or ``enrolment:…``), where nothing was recorded. A dead letter
re-driven twice (a crash between publishing and committing) is answered once more for a message
too broken to carry a request id, and given its stored answer for every other message — the same
rule as a producer's retry (docs/operations.md, "Dead letters").
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.topics import Topics
from ops.kafka import aiokafka_options
from ops.settings import CommonSettings
from settlement.entrypoints.dead_letters import ERROR, HEADER_PREFIX, REDRIVEN_FROM, SOURCE

GROUP = "settlement-redrive"


class RedriveError(Exception):
    """Said in one sentence by the CLI (exit 2)."""


@dataclass(frozen=True)
class Plan:
    dead_letter: str  # topic/partition/offset of the dead letter
    source: str  # where the message first came in
    error: str
    topic: str  # where it goes back to


def plan(record: Any, topics: Topics) -> Plan | None:
    """Where a dead letter goes back to: the topic it was read from (``medins.dlq.source``), if
    that is an input topic whose dead letters go to the topic it sits in — a principal's claims
    topic for claims.dlq.v1, enrolments.v1 for enrolments.dlq.v1. None for anything else (only
    the settlement service writes these topics; a record that says otherwise is not sent on)."""
    headers = {name: (value or b"").decode("utf-8", "replace") for name, value in record.headers or ()}
    source = headers.get(SOURCE, "")
    original = source.rsplit("/", 2)[0] if source.count("/") >= 2 else ""
    try:
        belongs = bool(original) and topics.dead_letters_of(original) == record.topic
    except KeyError:
        belongs = False
    return (
        Plan(f"{record.topic}/{record.partition}/{record.offset}", source, headers.get(ERROR, "?"), original)
        if belongs
        else None
    )


def plans(records: list[Any], topics: Topics) -> list[tuple[Any, Plan | None, str]]:
    """Each dead letter with where it goes back to, or why it is not sent (the reason). A record
    can have two dead-letter copies — the consumer copies it again when it meets it again after a
    rewind whose commit did not reach the broker — and both name the record they copy
    (``medins.dlq.source``): the second in a run is listed, not sent."""
    out: list[tuple[Any, Plan | None, str]] = []
    sent_from: dict[str, str] = {}  # source → the dead letter that re-drives it in this run
    for record in records:
        where = plan(record, topics)
        if where is None:
            out.append((record, None, "no input topic of ours in its headers"))
        elif where.source in sent_from:
            out.append((record, None, f"another copy of {where.source}, re-driven from {sent_from[where.source]}"))
        else:
            sent_from[where.source] = where.dead_letter
            out.append((record, where, ""))
    return out


def redriven_headers(record: Any, where: Plan) -> list[tuple[str, bytes]]:
    original = [(name, value or b"") for name, value in record.headers or () if not name.startswith(HEADER_PREFIX)]
    return [*original, (REDRIVEN_FROM, where.dead_letter.encode())]


async def _partitions(producer: AIOKafkaProducer, topics: Topics) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for topic in topics.dead_letters for p in await producer.partitions_for(topic)]


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def _read_to_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> list[Any]:
    """Every record from the group's position up to the end as it was when we started."""
    ends = await consumer.end_offsets(partitions)
    records: list[Any] = []
    while await _behind(consumer, ends):
        batches = await consumer.getmany(*partitions, timeout_ms=1000)
        for tp, found in batches.items():
            records += [r for r in found if r.offset < ends[tp]]
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))


async def redrive(settings: CommonSettings, *, dry_run: bool, out: TextIO) -> int:
    topics = Topics(settings.kafka_topic_prefix)
    options = aiokafka_options(settings)
    # Assigned, not subscribed: the group only keeps the committed positions (no rebalance).
    consumer = AIOKafkaConsumer(
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **options,
    )
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", client_id="settlement-redrive", **options)
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(consumer.start(), producer.start())
            partitions = await _partitions(producer, topics)
            consumer.assign(partitions)
    except TimeoutError:
        raise RedriveError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers} within 30 s") from None
    try:
        records = await _read_to_end(consumer, partitions)
        for record, where, skipped in plans(records, topics):
            if where is None:
                where_from = f"{record.topic}/{record.partition}/{record.offset}"
                out.write(json.dumps({"dead_letter": where_from, "skipped": skipped}) + "\n")
                continue
            line = {"dead_letter": where.dead_letter, "source": where.source, "error": where.error, "to": where.topic}
            if not dry_run:
                sent = await producer.send_and_wait(
                    where.topic, record.value, key=record.key, headers=redriven_headers(record, where)
                )
                line["to"] = f"{sent.topic}/{sent.partition}/{sent.offset}"
            out.write(json.dumps(line) + "\n")
        if not dry_run and records:
            await consumer.commit()
        return 0
    finally:
        await producer.stop()
        await consumer.stop()
