"""A message the service keeps failing on while its database and broker are healthy: answered
internal_error, copied to the dead-letter topic with its headers, counted — and, after the fix,
re-driven with `settlement redrive` and settled, once.

The failure is real: a trigger in the test's database refuses the events of one person, the
way a bug in the ledger path would refuse them (SQLSTATE P0001: not an outage).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from e2e_stack import ROOT

from devservers.stack import BIN
from ops.kafka import aiokafka_options

SENT = "2025-03-01T09:00:00+08:00"


def enrolment(psn_no: str) -> bytes:
    return json.dumps(
        {"msg_type": "enrolment", "schema_version": "enrolments.v2", "request_id": f"E-{psn_no}", "sent_at": SENT,
         "psn_no": psn_no, "insutype": "390", "psn_type": "1501", "insuplc_admdvs": "640100", "year": 2025,
         "enrol_date": "2024-10-01"}
    ).encode()  # fmt: skip


REFUSE_POISON = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stream_id LIKE 'POISON1/%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""


async def dead_letters(stack: Any, topic: str) -> list[object]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **aiokafka_options(stack.settings))
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        batches = await consumer.getmany(partition, timeout_ms=3000)
        return [record for records in batches.values() for record in records]
    finally:
        await consumer.stop()


def redrive(stack: object) -> list[dict[str, str]]:
    env = stack.launcher.environment(8080, {})  # type: ignore[attr-defined]  (the services' settings)
    done = subprocess.run(
        [str(BIN / "settlement"), "redrive"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_a_message_failing_while_healthy_is_dead_lettered_answered_and_redriven_after_the_fix(
    make_stack, tmp_path: Path
) -> None:
    stack = await make_stack()
    connection = await asyncpg.connect(stack.database_url)
    await connection.execute(REFUSE_POISON)
    service = await stack.start_settlement(SETTLEMENT_MAX_MESSAGE_ATTEMPTS="2", SETTLEMENT_MESSAGE_RETRY_SECONDS="0.1")
    # Enrolment facts come from the enrolment system's principal (with a registry of senders).
    sender = stack.as_principal(stack.registry.enrolment_system.name) if stack.registry else stack.settings
    producer = AIOKafkaProducer(enable_idempotence=True, **aiokafka_options(sender))
    await producer.start()
    try:
        poison = await producer.send_and_wait(
            stack.topics.enrolments, enrolment("POISON1"), key=b"POISON1", headers=[("traceparent", b"00-42")]
        )
        await producer.send_and_wait(stack.topics.enrolments, enrolment("CANARY1"), key=b"CANARY1")
    finally:
        await producer.stop()

    answers = {a["request_id"]: a for a in await stack.all_answers(expected=2)}
    failed = answers["E-POISON1"]
    assert failed["code"] == "internal_error" and "RaiseError" in failed["message"]
    assert failed["source"] == f"{poison.topic}/{poison.partition}/{poison.offset}"
    assert answers["E-CANARY1"]["msg_type"] == "enrolment_accepted"  # the partition moved on
    (letter,) = await dead_letters(stack, stack.topics.prefix + "enrolments.dlq.v1")
    headers = dict(letter.headers)  # type: ignore[attr-defined]
    assert letter.value == enrolment("POISON1") and letter.key == b"POISON1"  # type: ignore[attr-defined]
    assert headers["traceparent"] == b"00-42" and headers["medins.dlq.attempts"] == b"2"
    assert headers["medins.dlq.source"] == failed["source"].encode()
    assert headers["medins.dlq.error"] == b"RaiseError"
    assert await stack.metric(service, "settlement_dead_letters_total") == 1
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(service.url("/readyz"))).status_code == 200

    await connection.execute("DROP TRIGGER refuse_poison ON events")  # the fix
    await connection.close()
    (redriven,) = redrive(stack)
    assert redriven["dead_letter"].endswith("enrolments.dlq.v1/0/0") and redriven["source"] == failed["source"]
    assert redrive(stack) == []  # each dead letter is re-driven once

    published = await stack.all_answers(expected=3)
    second = [a for a in published if a["request_id"] == "E-POISON1" and a["msg_type"] != "rejection"]
    assert [a["msg_type"] for a in second] == ["enrolment_accepted"]  # priced afresh, not the stored failure
    assert len(published) == 3
    connection = await asyncpg.connect(stack.database_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM events WHERE stream_id = 'POISON1/2025'") == 1
    finally:
        await connection.close()
