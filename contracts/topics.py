"""The Kafka topics of the wire contract, with an optional prefix an operator may put in front,
and — where producers are bound to institutions — a principal each sender's topics are named by.

A shared cluster often namespaces topics per tenant or environment (``prod.claims.v1``); the
prefix comes from ``KAFKA_TOPIC_PREFIX`` and is the same for producers and both services.

With SASL principals (docs/integrating.md), each hospital system writes its own inbound topic
and reads its own answer topics, which the broker's ACLs give to it alone:
``<prefix>claims.v1.<principal>``, ``<prefix>settlements.v1.<principal>``,
``<prefix>rejections.v1.<principal>``. Enrolment facts stay on ``<prefix>enrolments.v1``,
written by the enrolment system's principal only. Without a principal the shared topics of
the first version are meant (a local or unsecured setup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

CLAIMS = "claims.v1"
ENROLMENTS = "enrolments.v1"
SETTLEMENTS = "settlements.v1"
REJECTIONS = "rejections.v1"
CLEARING = "clearing.v1"  # the ledger's clearing commands: closes, budgets, reviews (docs/clearing.md)
# Messages the settlement service failed on while healthy, one dead-letter topic per input topic.
DEAD_LETTERS = {CLAIMS: "claims.dlq.v1", ENROLMENTS: "enrolments.dlq.v1"}
_LEGAL = re.compile(r"[A-Za-z0-9._-]*")
PRINCIPAL = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a SCRAM user name that is also a topic suffix


@dataclass(frozen=True)
class Topics:
    prefix: str = ""
    principal: str | None = None

    def __post_init__(self) -> None:
        if not _LEGAL.fullmatch(self.prefix):
            raise ValueError(f"topic prefix {self.prefix!r} may hold only letters, digits, '.', '_' and '-'")
        if self.principal is not None and not PRINCIPAL.fullmatch(self.principal):
            raise ValueError(f"principal {self.principal!r} must be 1 to 64 letters, digits, '_' or '-'")

    def of(self, principal: str | None) -> Topics:
        """The same topics as seen by (and answered to) one principal."""
        return replace(self, principal=principal)

    def _own(self, name: str) -> str:
        return f"{self.prefix}{name}.{self.principal}" if self.principal else self.prefix + name

    @property
    def claims(self) -> str:
        return self._own(CLAIMS)

    @property
    def enrolments(self) -> str:
        return self.prefix + ENROLMENTS

    @property
    def settlements(self) -> str:
        return self._own(SETTLEMENTS)

    @property
    def rejections(self) -> str:
        return self._own(REJECTIONS)

    @property
    def clearing(self) -> str:
        return self.prefix + CLEARING

    @property
    def inbound(self) -> tuple[str, str]:
        return self.claims, self.enrolments

    @property
    def answers(self) -> tuple[str, str]:
        return self.settlements, self.rejections

    @property
    def inbound_pattern(self) -> str:
        """Every principal's claims topic and the enrolments topic, as one regular expression."""
        prefix = re.escape(self.prefix)
        return rf"^{prefix}(?:{re.escape(CLAIMS)}\.[A-Za-z0-9_-]+|{re.escape(ENROLMENTS)})$"

    def claims_principal(self, topic: str) -> str | None:
        """The principal whose claims topic this is (None for any other topic)."""
        head = f"{self.prefix}{CLAIMS}."
        name = topic[len(head) :] if topic.startswith(head) else ""
        return name if PRINCIPAL.fullmatch(name) else None

    @property
    def dead_letters(self) -> tuple[str, str]:
        """One dead-letter topic for the claims of every principal, one for enrolments.v1: only
        the settlement service writes them and only operators read them."""
        return self.prefix + DEAD_LETTERS[CLAIMS], self.prefix + DEAD_LETTERS[ENROLMENTS]

    def dead_letters_of(self, inbound_topic: str) -> str:
        """The dead-letter topic of one of our input topics (KeyError for any other topic)."""
        if inbound_topic == self.prefix + CLAIMS or self.claims_principal(inbound_topic):
            return self.prefix + DEAD_LETTERS[CLAIMS]
        if inbound_topic == self.prefix + ENROLMENTS:
            return self.prefix + DEAD_LETTERS[ENROLMENTS]
        raise KeyError(inbound_topic)
