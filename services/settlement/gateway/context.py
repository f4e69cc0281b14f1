"""What a national transaction is given (the envelope, when it came, the gateway's parts) and
what it gives back (the answer's ``output`` and the ledger appends that make it a fact)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.store import LedgerStore, StreamAppend

from contracts.topics import Topics
from engine.policy_book import PolicyBook
from settlement.gateway.envelope import Envelope
from settlement.gateway.fields import NationalRefusal
from settlement.gateway.ids import IdIssuer, LedgerIds
from settlement.gateway.people import PersonDirectory
from settlement.service_layer.handlers import SettlementService


@dataclass(frozen=True)
class Access:
    """Which institutions the sender of a message may act for: ``refusal(fixmedins_code)`` is why
    it may not (None: it may). Over HTTP the bearer token's ``fixmedins_codes``; streamed, the
    registry of senders' entry for the Kafka principal whose topic it came on (issue 10)."""

    refusal: Callable[[str], str | None]

    @staticmethod
    def anyone() -> Access:
        """A transport trusted as a whole: the shared topics of local mode, tests of the core."""
        return Access(lambda _: None)

    @staticmethod
    def only(institutions: frozenset[str]) -> Access:
        """A hospital's token: the institution codes it names, and no other."""

        def refusal(fixmedins_code: str) -> str | None:
            if fixmedins_code in institutions:
                return None
            return f"this token may act only for the institution codes it names, not for {fixmedins_code}"

        return Access(refusal)

    def check(self, fixmedins_code: str) -> None:
        """Refused ``not_authorised`` (a national "-1") before anything is read or stored under
        the message's msgid, which belongs to the institution it names."""
        why = self.refusal(fixmedins_code)
        if why is not None:
            raise NationalRefusal(f"not_authorised: {why}")


@dataclass(frozen=True)
class Deps:
    """The claims.v1/v2 service the gateway settles through (its ledger, policies, clock and
    topics are the gateway's), the person register and the id issuer."""

    service: SettlementService
    directory: PersonDirectory
    issuer: IdIssuer = field(default_factory=LedgerIds)

    @property
    def store(self) -> LedgerStore:
        return self.service.store

    @property
    def policies(self) -> PolicyBook:
        return self.service.policies

    @property
    def topics(self) -> Topics:
        return self.service.topics

    def answers_to(self, fixmedins_code: str) -> Topics | None:
        """Where a national answer given over HTTP is published for the record. With a registry
        of senders: the answer topics of the principal it names for the institution (the only
        answer topics there are; None when no principal speaks for it — no Kafka copy, the
        caller has its answer). Without one (local mode): the shared answer topics."""
        senders = self.service.senders
        if senders is None:
            return self.topics
        principal = senders.principal_for(fixmedins_code)
        return self.topics.of(principal.name) if principal else None

    def clock(self) -> datetime:
        return self.service.clock()


@dataclass(frozen=True)
class Done:
    output: dict[str, Any]
    appends: tuple[StreamAppend, ...] = ()
    warn: str = ""


@dataclass(frozen=True)
class Context:
    envelope: Envelope
    at: datetime  # when the message was received (tz-aware)
    deps: Deps


@dataclass(frozen=True)
class Transaction:
    name: str
    run: Callable[[Context], Awaitable[Done]]
    records: bool  # False: a query or a pre-settlement; nothing is stored
