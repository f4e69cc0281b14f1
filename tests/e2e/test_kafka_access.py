"""Producers bound to institutions, on the real broker with SASL_SSL (SCRAM-SHA-512 over TLS)
and the ACLs the project creates: a hospital system writes only its own topic and reads only
its own answers (the broker refuses the rest), and a claim it sends for an institution it does
not speak for is answered `not_authorised` on its own answer topic, recorded, never settled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError
from e2e_stack import Stack
from settlement.entrypoints.send import SendError, send
from test_settlement_over_kafka import P002_SETUP, claim_like

from ops.kafka import aiokafka_options

XINGQING, JINFENG = "his-xingqing", "his-jinfeng"  # examples/principals.toml
XINGQING_CODE = "H64010100003"  # the community centre of his-xingqing, where P002's visits are


@pytest.fixture
async def stack(make_stack: Any) -> Stack:
    made: Stack = await make_stack()
    if not made.kafka.secure:
        pytest.skip("needs the local broker's SASL_SSL listener (KAFKA_BOOTSTRAP_SERVERS points elsewhere)")
    return made


async def test_a_hospital_cannot_write_another_hospitals_topic_nor_the_enrolments(stack: Stack) -> None:
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **aiokafka_options(stack.as_principal(JINFENG)))
    await producer.start()
    try:
        own = await producer.send_and_wait(stack.topics.of(JINFENG).claims, b"{}", key=b"P002")
        for foreign in (stack.topics.of(XINGQING).claims, stack.topics.enrolments):
            with pytest.raises(TopicAuthorizationFailedError):
                await asyncio.wait_for(producer.send_and_wait(foreign, b"{}", key=b"P002"), 30)
    finally:
        await producer.stop()
    assert own.offset == 0  # its own topic took the record


async def test_settlement_send_says_in_a_sentence_when_the_broker_refuses_a_topic(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "enrolment.jsonl"
    path.write_text(P002_SETUP[0] + "\n", encoding="utf-8")  # enrolments.v1: not a hospital's to write
    with pytest.raises(SendError, match=r"refused .*enrolments\.v1 to this principal"):
        await send(str(path), stack.as_principal(JINFENG), wait_s=30, out=StringIO(), principal=JINFENG)


async def test_a_hospital_cannot_read_another_hospitals_answers(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    await stack.start_settlement()
    await stack.send(P002_SETUP)
    (settled,) = await stack.send([claim_like("READ-1")])  # answered on his-xingqing's topic
    assert settled["msg_type"] == "settlement"
    theirs = TopicPartition(stack.topics.of(XINGQING).settlements, 0)

    async def read_as(principal: str) -> list[Any]:
        options = aiokafka_options(stack.as_principal(principal))
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **options)
        await consumer.start()
        try:
            consumer.assign([theirs])
            batches = await consumer.getmany(timeout_ms=5000)
            return [json.loads(r.value) for records in batches.values() for r in records]
        finally:
            await consumer.stop()

    with caplog.at_level(logging.WARNING, logger="aiokafka"):
        stolen = await read_as(JINFENG)
    refused = [r for r in caplog.records if "not authorized for this client" in r.getMessage()]
    own = await read_as(XINGQING)

    assert stolen == [] and refused, "the broker must refuse another principal's answer topic"
    assert [a["request_id"] for a in own if a["msg_type"] == "settlement"] == ["READ-1"]


async def test_a_claim_for_an_institution_its_sender_does_not_speak_for_is_answered_not_authorised(
    stack: Stack, tmp_path: Path
) -> None:
    service = await stack.start_settlement()
    await stack.send(P002_SETUP)
    before = await stack.totals(service, "P002")
    # his-jinfeng sends, on its own topic, a claim in the name of his-xingqing's centre.
    path = tmp_path / "jinfeng.jsonl"
    path.write_text(claim_like("NOT-MINE-1", fixmedins_code=XINGQING_CODE) + "\n", encoding="utf-8")
    out = StringIO()
    assert await send(str(path), stack.as_principal(JINFENG), wait_s=60, out=out, principal=JINFENG) == 0

    (refused,) = [json.loads(line) for line in out.getvalue().splitlines()]  # on its own answer topic
    assert refused["code"] == "not_authorised" and refused["request_id"] == "NOT-MINE-1"
    assert refused["field"] == "fixmedins_code" and JINFENG in refused["message"]
    assert await stack.totals(service, "P002") == before
    assert await stack.count_events("ClaimSettled") == 0
    # The refusal did not take the key of the institution it named: its own HIS still settles it.
    (settled,) = await stack.send([claim_like("NOT-MINE-1", fixmedins_code=XINGQING_CODE)])
    assert settled["msg_type"] == "settlement"


async def test_an_enrolment_fact_on_a_hospitals_own_topic_is_answered_not_authorised(
    stack: Stack, tmp_path: Path
) -> None:
    await stack.start_settlement()
    enrolment = json.loads(P002_SETUP[0]) | {"request_id": "ENR-ON-CLAIMS"}
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **aiokafka_options(stack.as_principal(JINFENG)))
    await producer.start()
    try:
        await producer.send_and_wait(stack.topics.of(JINFENG).claims, json.dumps(enrolment).encode(), key=b"P002")
    finally:
        await producer.stop()
    (answer,) = await stack.all_answers(expected=1)
    assert answer["code"] == "not_authorised" and answer["field"] == "msg_type"
    assert await stack.count_events("PersonEnrolled") == 0
