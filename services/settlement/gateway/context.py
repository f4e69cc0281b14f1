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
    """The institutions a caller may act for; ``None``: any (a transport trusted as a whole)."""

    institutions: frozenset[str] | None

    def check(self, fixmedins_code: str) -> None:
        """A hospital acts only for its own institution codes (the token's ``fixmedins_codes``)."""
        if self.institutions is not None and fixmedins_code not in self.institutions:
            raise NationalRefusal(f"this caller may not act for institution {fixmedins_code}")


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
