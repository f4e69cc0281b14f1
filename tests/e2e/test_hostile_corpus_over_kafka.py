"""The hostile corpus over Kafka against the real services: every message answered exactly once,
the canary claim behind each poison answered, the service ready at the end (issue 10 item 1)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from aiokafka import AIOKafkaProducer
from e2e_stack import PLATFORM
from hostile_corpus import PERSON, canary, corpus, enrolment, request_id_of

from ops.kafka import aiokafka_options

BAD_ANSWERS = ("internal_error", "invariant_broken")


async def test_every_hostile_message_is_answered_once_and_every_canary_behind_one_settles(make_stack) -> None:
    stack = await make_stack()
    service = await stack.start_settlement(SETTLEMENT_MAX_RETRY_SECONDS="1")
    await stack.send([enrolment().decode()])
    entries = [entry for entry in corpus() if not entry.kafka.get("skip")]
    # Every message through one hospital system's own topic (the regional platform's, which
    # speaks for every institution), as a hostile or buggy sender would send it.
    claims = stack.topics.of(PLATFORM).claims if stack.registry else stack.topics.claims
    options = aiokafka_options(stack.as_principal(PLATFORM) if stack.registry else stack.settings)
    producer = AIOKafkaProducer(enable_idempotence=True, max_request_size=2**21, **options)
    await producer.start()
    sources: dict[str, str] = {}
    try:
        for number, entry in enumerate(entries, start=1):
            kafka = entry.kafka
            key = bytes.fromhex(kafka["key_hex"]) if "key_hex" in kafka else PERSON.encode()
            headers = [(name, bytes.fromhex(value) if value else None) for name, value in kafka.get("headers", [])]
            sent = await producer.send_and_wait(
                claims, entry.body, key=key, headers=headers, timestamp_ms=kafka.get("timestamp_ms")
            )
            sources[entry.name] = f"{sent.topic}/{sent.partition}/{sent.offset}"
            await producer.send_and_wait(claims, canary(number), key=PERSON.encode())
    finally:
        await producer.stop()

    answers = await stack.all_answers(expected=1 + 2 * len(entries), timeout=180)
    by_source = Counter(a.get("source") for a in answers if a.get("source"))
    by_request = Counter(a["request_id"] for a in answers if a["msg_type"] != "rejection")
    for number, entry in enumerate(entries, start=1):
        if entry.answer == "rejection":
            (answer,) = [a for a in answers if a.get("source") == sources[entry.name]]
            assert by_source[sources[entry.name]] == 1, entry.name
            assert answer["code"] not in BAD_ANSWERS, (entry.name, answer)
            assert entry.field is None or answer["field"] == entry.field, (entry.name, answer)
        else:
            request_id = request_id_of(entry.body)
            assert by_request[request_id] == 1, entry.name
        assert by_request[f"CANARY-{number:03d}"] == 1, f"the canary behind {entry.name}"
    assert len(answers) == 1 + 2 * len(entries)  # nothing answered twice, nothing else answered
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(50):
            if (await client.get(service.url("/readyz"))).status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert (await client.get(service.url("/readyz"))).status_code == 200
    assert await stack.metric(service, "settlement_dead_letters_total") == 0
    assert service.process.poll() is None
