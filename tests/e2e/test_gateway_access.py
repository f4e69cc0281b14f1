"""Who may use the national gateway, on the real services: over HTTP a bearer token of the local
issuer with the hospital role, acting only for the institution codes it names; streamed on the
real broker (SASL_SSL), a principal acting only for the institutions the registry of senders
gives it. Every refusal is a national answer "-1" (HTTP 200), never a problem document or a 500.
"""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from e2e_stack import Stack

from ops.kafka import aiokafka_options

JINFENG = "his-jinfeng"  # examples/principals.toml: H64010100002, H64010100004, H64010100005
JINFENG_CODE, XINGQING_CODE = "H64010100002", "H64010100001"  # its own hospital; his-xingqing's


def sign_in(fixmedins_code: str, msgid: str) -> bytes:
    """9001 as binzhe's and hsa-his's clients send it (docs/national-interface.md): a query,
    answered from nothing but the envelope, so the refusals below are the caller's alone."""
    envelope = {
        "infno": "9001",
        "msgid": msgid,
        "mdtrtarea_admvs": "640100",
        "insuplc_admdvs": "640100",
        "recer_sys_code": "E2E",
        "infver": "V1.0",
        "opter_type": "1",
        "opter": "e2e",
        "opter_name": "收费员",
        "inf_time": "2025-06-16 08:00:00",
        "fixmedins_code": fixmedins_code,
        "sign_no": "",
        "input": {"signIn": {"opter_no": "e2e", "mac": "", "ip": ""}},
    }
    return json.dumps(envelope, ensure_ascii=False).encode()


async def test_over_http_only_a_hospital_token_naming_the_institution_gets_an_answer(make_stack: Any) -> None:
    stack: Stack = await make_stack()
    service = await stack.start_settlement()
    issuer = stack.launcher.issuer
    refused_callers = {
        "no token": ({}, "a bearer token is required"),
        "an expired token": (
            {"Authorization": "Bearer " + issuer.mint("his", ["hospital"], [XINGQING_CODE], ttl=-120)},
            "it has expired",
        ),
        "an auditor": (stack.bearer("auditor", XINGQING_CODE), "this needs the role hospital"),
        "another institution's hospital": (
            stack.bearer("hospital", JINFENG_CODE),
            f"not_authorised: this token may act only for the institution codes it names, not for {XINGQING_CODE}",
        ),
    }
    body = sign_in(XINGQING_CODE, "H640101000012025061608000001")
    async with httpx.AsyncClient(timeout=10) as client:
        for who, (headers, phrase) in refused_callers.items():
            reply = await client.post(service.url("/fsi/api/9001"), content=body, headers=headers)
            assert reply.status_code == 200, (who, reply.text)
            answer = reply.json()
            assert (answer["infcode"], phrase in answer["err_msg"]) == ("-1", True), (who, answer)
        own = await client.post(service.url("/fsi/api"), content=body, headers=stack.bearer("hospital", XINGQING_CODE))
    assert own.json()["infcode"] == "0" and own.json()["output"]["signinoutb"]["sign_no"]
    assert "http_failed" not in service.log.read_text() and "national_failed" not in service.log.read_text()


async def _answers_read_as(stack: Stack, principal: str, expected: int, timeout: float = 60) -> dict[str, Any]:
    """msgid → national answer on the principal's own settlements topic, read with its own
    credentials (the msgid travels in the record's headers)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(stack.as_principal(principal)))
    await consumer.start()
    try:
        own = TopicPartition(stack.topics.of(principal).settlements, 0)
        consumer.assign([own])
        await consumer.seek_to_beginning(own)
        answers: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while len(answers) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for record in (r for records in batch.values() for r in records):
                answers[dict(record.headers)["msgid"].decode()] = json.loads(record.value)
        return answers
    finally:
        await consumer.stop()


async def test_an_envelope_streamed_for_another_institution_is_answered_not_authorised_on_its_senders_topic(
    make_stack: Any,
) -> None:
    stack: Stack = await make_stack()
    if not stack.kafka.secure:
        pytest.skip("needs the local broker's SASL_SSL listener (KAFKA_BOOTSTRAP_SERVERS points elsewhere)")
    await stack.start_settlement()
    producer = AIOKafkaProducer(enable_idempotence=True, acks="all", **aiokafka_options(stack.as_principal(JINFENG)))
    await producer.start()
    try:  # his-jinfeng, on its own topic: in his-xingqing's name, then in its own
        for code, msgid in ((XINGQING_CODE, "NOT-MINE-9001"), (JINFENG_CODE, "MINE-9001")):
            await producer.send_and_wait(stack.topics.of(JINFENG).claims, sign_in(code, msgid), key=code.encode())
    finally:
        await producer.stop()

    answers = await _answers_read_as(stack, JINFENG, expected=2)
    assert set(answers) == {"NOT-MINE-9001", "MINE-9001"}
    refused = answers["NOT-MINE-9001"]
    assert refused["infcode"] == "-1" and refused["output"] == {}
    assert refused["err_msg"] == f"not_authorised: principal {JINFENG} may not send for institution {XINGQING_CODE}"
    assert answers["MINE-9001"]["infcode"] == "0"
    connection = await asyncpg.connect(stack.database_url)
    try:  # both recorded under their Kafka records' keys: a redelivery is answered from the record
        rows = await connection.fetchval("SELECT count(*) FROM idempotency WHERE key LIKE '%#fsi'")
    finally:
        await connection.close()
    assert rows == 2
