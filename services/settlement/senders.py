"""Who may send what over Kafka: the registry of SASL principals and the institutions each one
speaks for, and the broker ACLs that bind each principal to its own topics.

Kafka records carry no producer identity, so identity travels through the topic: the broker
lets principal P write only ``<prefix>claims.v1.P`` (ACLs), and the service reads the sender
from the topic a record came from. The registry (a TOML file, SETTLEMENT_PRINCIPALS_FILE;
docs/operations.md) then says which institution codes P may send claims and reversals for,
and which single principal may send enrolment facts on ``<prefix>enrolments.v1``:

    [principals.his-ningxia-people]
    fixmedins_codes = ["H64010100001", "H64010100003"]

    [principals.enrolment-system]
    enrolments = true

A message its sender may not send is answered `not_authorised` on the sender's own answer
topic (handlers), recorded like any other answer.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.claims import Claim, Reversal
from contracts.enrolments import AccountCredit, Contribution, Enrolment
from contracts.reconciliation import Reconciliation
from contracts.topics import PRINCIPAL, Topics

# a reconciliation: its own codes only
Message = Claim | Reversal | Enrolment | AccountCredit | Contribution | Reconciliation


class RegistryError(Exception):
    """The registry file is missing or malformed; the message says where."""


@dataclass(frozen=True)
class Principal:
    name: str
    fixmedins_codes: frozenset[str]
    enrolments: bool = False


@dataclass(frozen=True)
class Sender:
    """Who sent a record (as far as the topic tells), and where its answers go."""

    name: str
    principal: Principal | None  # None: a topic for a principal the registry does not know
    answers: Topics

    def refusal(self, message: Message) -> str | None:
        """Why this sender may not send this message (None: it may)."""
        if not isinstance(message, Enrolment | AccountCredit | Contribution):
            return self.institution_refusal(message.fixmedins_code)
        if self.principal is None:
            return self._unknown()
        if not self.principal.enrolments:
            return f"principal {self.name} may not send enrolment facts; the enrolment system sends them"
        return None

    def institution_refusal(self, fixmedins_code: str) -> str | None:
        """Why this sender may not act for this institution (None: it may): its claims and
        reversals, and the national envelopes it streams (settlement.gateway.streaming)."""
        if self.principal is None:
            return self._unknown()
        if fixmedins_code not in self.principal.fixmedins_codes:
            return f"principal {self.name} may not send for institution {fixmedins_code}"
        return None

    def _unknown(self) -> str:
        return f"principal {self.name} is not in the registry of senders; nothing it sends is accepted"


@dataclass(frozen=True)
class Registry:
    principals: Mapping[str, Principal]

    @property
    def enrolment_system(self) -> Principal:
        (only,) = [p for p in self.principals.values() if p.enrolments]
        return only

    def principal_for(self, fixmedins_code: str) -> Principal | None:
        """The principal that speaks for an institution (the demo and tests route by it)."""
        return next((p for p in self.principals.values() if fixmedins_code in p.fixmedins_codes), None)

    def sender(self, topic: str, topics: Topics) -> Sender | None:
        """The sender of a record read from `topic` (None: not an inbound topic of ours)."""
        if topic == topics.enrolments:
            enrolments = self.enrolment_system
            return Sender(enrolments.name, enrolments, topics.of(enrolments.name))
        name = topics.claims_principal(topic)
        if name is None:
            return None
        return Sender(name, self.principals.get(name), topics.of(name))


def load_registry(path: str | Path) -> Registry:
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise RegistryError(f"cannot read the registry of senders {path}: {error}") from None
    tables = document.get("principals")
    if not isinstance(tables, dict) or not tables:
        raise RegistryError(f"{path}: no [principals.<name>] tables")
    principals = {name: _principal(path, name, table) for name, table in tables.items()}
    if sum(p.enrolments for p in principals.values()) != 1:
        raise RegistryError(f"{path}: exactly one principal must have `enrolments = true`")
    return Registry(principals)


def _principal(path: str | Path, name: str, table: object) -> Principal:
    where = f"{path}: [principals.{name}]"
    if not PRINCIPAL.fullmatch(name):
        raise RegistryError(f"{where}: a principal is 1 to 64 letters, digits, '_' or '-'")
    if not isinstance(table, dict) or set(table) - {"fixmedins_codes", "enrolments"}:
        raise RegistryError(f"{where}: only `fixmedins_codes` and `enrolments` may be given")
    codes, enrolments = table.get("fixmedins_codes", []), table.get("enrolments", False)
    if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() == c and c for c in codes):
        raise RegistryError(f"{where}: fixmedins_codes must be a list of institution codes")
    if not isinstance(enrolments, bool):
        raise RegistryError(f"{where}: enrolments must be true or false")
    return Principal(name, frozenset(codes), enrolments)


@dataclass(frozen=True)
class Acl:
    """Allow `principal` the `operation` (Kafka's name: WRITE, READ, DESCRIBE) on one topic."""

    principal: str
    topic: str
    operation: str


def acls(registry: Registry, topics: Topics) -> list[Acl]:
    """What each principal may do on the broker: write its own inbound topic (the enrolment
    system: enrolments.v1), read its own answer topics; nothing else. The services' own
    principal is a super user (docs/operations.md)."""
    granted: list[Acl] = []
    for principal in registry.principals.values():
        own = topics.of(principal.name)
        writes = ([own.claims] if principal.fixmedins_codes else []) + (
            [own.enrolments] if principal.enrolments else []
        )
        for topic in writes:
            granted += [Acl(principal.name, topic, op) for op in ("WRITE", "DESCRIBE")]
        for topic in own.answers:
            granted += [Acl(principal.name, topic, op) for op in ("READ", "DESCRIBE")]
    return granted
