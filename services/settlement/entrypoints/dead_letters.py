"""The dead-letter topics: where a message goes that the service failed on while healthy.

One dead-letter topic per input topic, ``<prefix>claims.dlq.v1`` and ``<prefix>enrolments.dlq.v1``
(contracts.topics), so the producers of each keep their own ACLs and an operator sees at once
whose messages failed. The copy keeps the original value, key and headers byte for byte and adds
``medins.dlq.*`` headers saying where it came from and why (docs/operations.md, "Dead letters").
`settlement redrive` publishes it back to the original topic after a fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.inbound import quote
from contracts.topics import Topics

HEADER_PREFIX = "medins.dlq."
SOURCE = HEADER_PREFIX + "source"  # topic/partition/offset of the failed record
ERROR = HEADER_PREFIX + "error"  # the exception's type, e.g. ZeroDivisionError
REASON = HEADER_PREFIX + "reason"  # its message, bounded and made printable
ATTEMPTS = HEADER_PREFIX + "attempts"
FAILED_AT = HEADER_PREFIX + "failed_at"  # ISO time the service gave up
RECORD_TIMESTAMP = HEADER_PREFIX + "record_timestamp"  # the original record's timestamp (ms)
REDRIVEN_FROM = "medins.redriven_from"  # on a re-driven copy: the dead letter it came from


class Producer(Protocol):
    async def send_and_wait(
        self, topic: str, value: bytes | None = ..., key: bytes | None = ..., headers: Any = ...
    ) -> Any: ...


class NoDeadLetterTopic:
    """For a caller that wires no producer (a test, a tool): a copy is refused, which the consumer
    logs (``dead_letter_not_copied``) and gets past; the internal_error answer still goes out."""

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = ()
    ) -> Any:
        raise DeadLettersUnavailable(f"no producer for the dead-letter topic {topic}")


class DeadLettersUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class DeadLetterPolicy:
    """How hard to try before giving up on one message, and where to put it then."""

    producer: Producer
    topics: Topics
    max_attempts: int = 3
    retry_delay_s: float = 0.2

    def topic_for(self, source_topic: str) -> str:
        return self.topics.dead_letters_of(source_topic)

    async def publish(self, record: Any, error: BaseException, attempts: int) -> str:
        """Copy the record to its dead-letter topic; returns the topic. Raises what the broker
        raises (an outage: the caller rewinds, and the copy is made again on redelivery)."""
        topic = self.topic_for(record.topic)
        await self.producer.send_and_wait(
            topic, record.value, key=record.key, headers=dead_letter_headers(record, error, attempts)
        )
        return topic


def dead_letter_headers(record: Any, error: BaseException, attempts: int) -> list[tuple[str, bytes]]:
    original = [
        (str(name), bytes(value) if value is not None else b"")
        for name, value in (record.headers or ())
        if not str(name).startswith(HEADER_PREFIX)
    ]
    ours = {
        SOURCE: f"{record.topic}/{record.partition}/{record.offset}",
        ERROR: type(error).__name__,
        REASON: quote(str(error), limit=500),
        ATTEMPTS: str(attempts),
        FAILED_AT: datetime.now(UTC).isoformat(),
        RECORD_TIMESTAMP: str(getattr(record, "timestamp", "")),
    }
    return original + [(name, value.encode()) for name, value in ours.items()]
