"""Hostile review of a61f1b9 (input topics stamped by the broker), over the real broker: each
test failed before its fix (a first start on shared topics let the broker auto-create them at
the sender's clock, unsaid)."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any, cast

import pytest
import structlog
from aiokafka import AIOKafkaConsumer
from settlement.bootstrap import _say_which_inputs_take_the_senders_clock

from contracts.topics import Topics
from ops.kafka import stamped_by_sender

pytestmark = pytest.mark.integration


def _settings(bootstrap: str) -> Any:
    """Only what aiokafka_options reads: the local broker's plaintext listener."""
    return cast(
        Any,
        SimpleNamespace(
            kafka_bootstrap_servers=bootstrap,
            kafka_security_protocol="PLAINTEXT",
            kafka_sasl_mechanism=None,
            kafka_ssl_cafile=None,
        ),
    )


async def _subscribe_as_the_service_does(bootstrap: str, topics: Topics) -> None:
    """build_broker without a registry subscribes to topics.inbound by name; aiokafka's metadata
    request asks the broker to auto-create them (allow_auto_topic_creation defaults to True)."""
    consumer = AIOKafkaConsumer(*topics.inbound, bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


async def test_a_first_start_on_shared_topics_leaves_no_input_topic_on_the_senders_clock_unsaid(
    kafka_bootstrap: str,
) -> None:
    topics = Topics(f"first-{uuid.uuid4().hex[:8]}.")  # a fresh deployment: no topic exists yet
    settings = _settings(kafka_bootstrap)
    with structlog.testing.capture_logs() as logged:
        await _say_which_inputs_take_the_senders_clock(settings, topics, bound=False)
    await _subscribe_as_the_service_does(kafka_bootstrap, topics)
    pattern = "|".join(name.replace(".", r"\.") for name in topics.inbound)
    for _ in range(20):  # auto-creation is asynchronous on the broker
        stamped = await stamped_by_sender({"bootstrap_servers": kafka_bootstrap}, pattern)
        if len(stamped) == 2:
            break
        await asyncio.sleep(0.25)
    warned = [e for e in logged if e["event"] == "input_topics_take_the_senders_clock"]
    assert not stamped or warned, f"{stamped} take the sender's clock, and the service said nothing"
