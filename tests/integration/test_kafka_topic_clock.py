"""The topics hospitals write are stamped by the broker (ops.kafka.BROKER_TIME): the service reads
a record's timestamp as when the message was received, and with Kafka's default (CreateTime)
that is whatever the sending system's clock or code set. Over the real broker."""

from __future__ import annotations

import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.topics import Topics
from devservers.stack import KafkaAccess, prepare_topics
from ops.kafka import ensure_topics, stamped_by_sender

pytestmark = pytest.mark.integration

IN_2099 = 4_070_908_800_000  # 2099-01-01T00:00:00Z in ms: a producer's clock far ahead
CREATE_TIME, LOG_APPEND_TIME = 0, 1  # aiokafka's ConsumerRecord.timestamp_type


async def first_record_of(bootstrap: str, topic: str) -> tuple[int, int]:
    """(timestamp_type, timestamp ms) of the topic's first record."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await consumer.getone()
        return record.timestamp_type, record.timestamp
    finally:
        await consumer.stop()


async def sent_from_the_future(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"P1", timestamp_ms=IN_2099)
    finally:
        await producer.stop()


async def test_a_topic_made_for_senders_takes_the_brokers_time_not_the_one_the_sender_set(
    kafka_bootstrap: str,
) -> None:
    options = {"bootstrap_servers": kafka_bootstrap}
    theirs, answers = f"claims-{uuid.uuid4().hex[:8]}", f"answers-{uuid.uuid4().hex[:8]}"
    assert await ensure_topics(options, [theirs, answers], broker_time=[theirs]) == [theirs, answers]
    for topic in (theirs, answers):
        await sent_from_the_future(kafka_bootstrap, topic)
    kind, stamped = await first_record_of(kafka_bootstrap, theirs)
    assert kind == LOG_APPEND_TIME and abs(stamped / 1000 - time.time()) < 120  # the broker's clock
    assert await first_record_of(kafka_bootstrap, answers) == (CREATE_TIME, IN_2099)  # left at Kafka's default


async def test_the_service_can_name_the_input_topics_left_at_the_senders_clock(kafka_bootstrap: str) -> None:
    options = {"bootstrap_servers": kafka_bootstrap}
    prefix = f"clock-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    await ensure_topics(options, [topics.enrolments], broker_time=[topics.enrolments])
    await ensure_topics(options, [topics.of("his-a").claims])  # made by hand, at Kafka's default
    assert await stamped_by_sender(options, topics.inbound_pattern) == [topics.of("his-a").claims]


async def test_the_local_stack_makes_its_input_topics_stamped_by_the_broker(kafka_bootstrap: str) -> None:
    topics = Topics(f"stack-{uuid.uuid4().hex[:8]}.")
    await prepare_topics(KafkaAccess(kafka_bootstrap), topics, None, partitions=1)
    options = {"bootstrap_servers": kafka_bootstrap}
    pattern = "|".join(name.replace(".", r"\.") for name in (*topics.inbound, *topics.answers))
    assert await stamped_by_sender(options, pattern) == sorted(topics.answers)  # the inbound ones are not
