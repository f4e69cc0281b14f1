"""Where a dead letter goes, and where `settlement redrive` sends it back."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from settlement.entrypoints.dead_letters import REDRIVEN_FROM, SOURCE
from settlement.entrypoints.redrive import plan, redriven_headers

from contracts.topics import Topics


def test_each_input_topic_has_its_own_dead_letter_topic_under_the_same_prefix() -> None:
    topics = Topics("prod.")
    assert topics.dead_letters == ("prod.claims.dlq.v1", "prod.enrolments.dlq.v1")
    assert topics.dead_letters_of("prod.claims.v1") == "prod.claims.dlq.v1"
    assert topics.inbound_of("prod.enrolments.dlq.v1") == "prod.enrolments.v1"
    with pytest.raises(KeyError):
        topics.dead_letters_of("prod.settlements.v1")  # answers are never dead-lettered


@dataclass
class Letter:
    topic: str = "prod.claims.dlq.v1"
    partition: int = 0
    offset: int = 9
    headers: list[tuple[str, bytes | None]] = field(
        default_factory=lambda: [
            ("traceparent", b"00-1"),
            (SOURCE, b"prod.enrolments.v1/2/40"),  # forged: the dead-letter topic decides, not a header
            ("medins.dlq.error", b"KeyError"),
        ]
    )


def test_a_dead_letter_goes_back_to_the_input_topic_of_its_dead_letter_topic_with_its_own_headers() -> None:
    letter = Letter()
    where = plan(letter, Topics("prod."))
    assert (where.topic, where.dead_letter, where.error) == ("prod.claims.v1", "prod.claims.dlq.v1/0/9", "KeyError")
    assert redriven_headers(letter, where) == [("traceparent", b"00-1"), (REDRIVEN_FROM, b"prod.claims.dlq.v1/0/9")]
