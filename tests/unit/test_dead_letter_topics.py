"""Where a dead letter goes, and where `settlement redrive` sends it back."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from settlement.entrypoints.dead_letters import REDRIVEN_FROM, SOURCE
from settlement.entrypoints.redrive import plan, plans, redriven_headers

from contracts.topics import Topics


def test_every_principals_claims_share_one_dead_letter_topic_and_enrolments_have_theirs() -> None:
    topics = Topics("prod.")
    assert topics.dead_letters == ("prod.claims.dlq.v1", "prod.enrolments.dlq.v1")
    assert topics.dead_letters_of("prod.claims.v1.hospital-7") == "prod.claims.dlq.v1"
    assert topics.dead_letters_of("prod.claims.v1") == "prod.claims.dlq.v1"  # the shared topic (local mode)
    assert topics.dead_letters_of("prod.enrolments.v1") == "prod.enrolments.dlq.v1"
    with pytest.raises(KeyError):
        topics.dead_letters_of("prod.settlements.v1.hospital-7")  # answers are never dead-lettered


@dataclass
class Letter:
    source: bytes
    topic: str = "prod.claims.dlq.v1"
    partition: int = 0
    offset: int = 9
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.headers = [("traceparent", b"00-1"), (SOURCE, self.source), ("medins.dlq.error", b"KeyError")]


def test_a_dead_letter_goes_back_to_the_principals_own_topic_with_its_own_headers() -> None:
    letter = Letter(b"prod.claims.v1.hospital-7/2/40")
    where = plan(letter, Topics("prod."))
    assert where is not None
    assert (where.topic, where.dead_letter, where.error) == (
        "prod.claims.v1.hospital-7",
        "prod.claims.dlq.v1/0/9",
        "KeyError",
    )
    assert redriven_headers(letter, where) == [("traceparent", b"00-1"), (REDRIVEN_FROM, b"prod.claims.dlq.v1/0/9")]


@pytest.mark.parametrize(
    "source",
    [b"prod.enrolments.v1/0/3", b"prod.settlements.v1.hospital-7/0/1", b"other.claims.v1.h/0/1", b"garbage", b""],
)
def test_a_dead_letter_naming_a_topic_that_does_not_belong_with_it_is_not_sent_anywhere(source: bytes) -> None:
    assert plan(Letter(source), Topics("prod.")) is None


def test_a_second_dead_letter_copy_of_one_record_is_listed_not_sent_again() -> None:
    """A record copied twice to the dead-letter topic (met again after a rewind whose commit did
    not reach the broker) names the same source in both copies: re-driving both would send the
    message back twice."""
    first = Letter(b"prod.claims.v1.hospital-7/2/40", offset=9)
    again = Letter(b"prod.claims.v1.hospital-7/2/40", offset=12)
    other = Letter(b"prod.claims.v1.hospital-7/2/41", offset=13)
    decided = plans([first, again, other], Topics("prod."))

    assert [(where.dead_letter if where else None) for _, where, _ in decided] == [
        "prod.claims.dlq.v1/0/9",
        None,
        "prod.claims.dlq.v1/0/13",
    ]
    assert decided[1][2] == "another copy of prod.claims.v1.hospital-7/2/40, re-driven from prod.claims.dlq.v1/0/9"
