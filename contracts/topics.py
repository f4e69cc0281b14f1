"""The Kafka topics of the wire contract, with an optional prefix an operator may put in front.

A shared cluster often namespaces topics per tenant or environment (``prod.claims.v1``); the
prefix comes from ``KAFKA_TOPIC_PREFIX`` and is the same for producers and both services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLAIMS = "claims.v1"
ENROLMENTS = "enrolments.v1"
SETTLEMENTS = "settlements.v1"
REJECTIONS = "rejections.v1"
_LEGAL = re.compile(r"[A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def __post_init__(self) -> None:
        if not _LEGAL.fullmatch(self.prefix):
            raise ValueError(f"topic prefix {self.prefix!r} may hold only letters, digits, '.', '_' and '-'")

    @property
    def claims(self) -> str:
        return self.prefix + CLAIMS

    @property
    def enrolments(self) -> str:
        return self.prefix + ENROLMENTS

    @property
    def settlements(self) -> str:
        return self.prefix + SETTLEMENTS

    @property
    def rejections(self) -> str:
        return self.prefix + REJECTIONS

    @property
    def inbound(self) -> tuple[str, str]:
        return self.claims, self.enrolments

    @property
    def answers(self) -> tuple[str, str]:
        return self.settlements, self.rejections
