"""`settlement send FILE.jsonl`: publish messages as a hospital system would, print the answers.

Each line goes to claims.v1 or enrolments.v1 by its msg_type, keyed by psn_no, through an
idempotent producer (acks=all). Answers on settlements.v1 / rejections.v1 are matched to the
lines by request id, or — for a line too broken to carry one — by its topic/partition/offset.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ops.kafka import aiokafka_options
from ops.settings import CommonSettings

ANSWER_TOPICS = ("settlements.v1", "rejections.v1")


class SendError(Exception):
    pass


def route(line: bytes) -> tuple[str, bytes, str | None]:
    """(topic, key, request id) of a line; unparseable lines still go to claims.v1."""
    try:
        obj = json.loads(line)
    except ValueError:
        return "claims.v1", b"unknown", None
    if not isinstance(obj, dict):
        return "claims.v1", b"unknown", None
    topic = "enrolments.v1" if obj.get("msg_type") in ("enrolment", "account_credit") else "claims.v1"
    key = str(obj.get("psn_no") or "unknown").encode()
    request_id = obj.get("request_id") if isinstance(obj.get("request_id"), str) else None
    return topic, key, request_id


async def send(path: str, settings: CommonSettings, *, wait_s: float, out: TextIO) -> int:
    try:
        lines = [ln for ln in Path(path).read_bytes().splitlines() if ln.strip()]
    except OSError as error:
        raise SendError(f"cannot read {path}: {error.strerror}") from None
    options = aiokafka_options(settings)
    consumer = AIOKafkaConsumer(
        *ANSWER_TOPICS,
        group_id=f"settlement-send-{uuid.uuid4()}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        **options,
    )
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **options)
    try:
        await asyncio.wait_for(asyncio.gather(consumer.start(), producer.start()), timeout=30)
    except (TimeoutError, OSError, Exception) as error:
        raise SendError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {error}") from None
    try:
        await consumer.seek_to_end()
        pending: dict[str, int] = {}
        for line in lines:
            topic, key, request_id = route(line)
            meta = await producer.send_and_wait(topic, line, key=key)
            pending[request_id or f"{meta.topic}/{meta.partition}/{meta.offset}"] = 1
        return await _collect(consumer, pending, wait_s, out)
    finally:
        await producer.stop()
        await consumer.stop()


async def _collect(consumer: AIOKafkaConsumer, pending: dict[str, int], wait_s: float, out: TextIO) -> int:
    deadline = time.monotonic() + wait_s
    while pending and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                answer: dict[str, Any] = json.loads(record.value)
                key = answer.get("request_id") or answer.get("source")
                if key in pending:
                    del pending[key]
                    out.write(record.value.decode() + "\n")
                    out.flush()
    if pending:
        print(f"settlement send: {len(pending)} message(s) not answered within {wait_s:.0f} s", file=sys.stderr)
        return 1
    return 0
