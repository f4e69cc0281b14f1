"""A person's year as the fold of its events: enrolment facts, totals, settlements in force."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from contracts.codes import FundPayType, Insutype
from engine.enrolment import EnrolmentFacts
from engine.errors import InvariantBroken
from engine.events import (
    AccountCredited,
    ClaimSettled,
    Event,
    FamilyAccountDebited,
    FamilyAccountRefunded,
    PersonEnrolled,
    SettlementReversed,
)
from engine.policy_book import PolicyStamp
from engine.settlement_facts import SettlementAmounts
from engine.totals import ZERO, Totals

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class OpenSettlement:
    """What a reversal needs to undo a settlement: its facts in fen, never its wire answer."""

    setl_id: str
    mdtrt_id: str
    fixmedins_code: str  # only the institution that settled may reverse
    delta: Totals
    payer_psn_no: str | None
    policy: PolicyStamp
    amounts: SettlementAmounts
    funds: tuple[tuple[FundPayType, int], ...]  # fund_payamt of each fund that took part
    reversed_by: str | None = None

    @property
    def acct_mulaid_pay(self) -> int:
        return self.amounts.acct_mulaid_pay

    @staticmethod
    def of(event: ClaimSettled) -> OpenSettlement:
        funds = tuple((row.fund_pay_type, row.fund_payamt) for row in event.funds)
        return OpenSettlement(
            event.setl_id,
            event.mdtrt_id,
            event.fixmedins_code,
            event.delta,
            event.payer_psn_no,
            event.policy,
            event.amounts,
            funds,
        )


@dataclass(frozen=True)
class SettlementNote:
    """What a person-year read from its stored projection keeps of a settlement (projection
    schema 4): who settled it and whether it was reversed. Its amounts stay in its ClaimSettled
    event, the record: a claim never reads an earlier settlement's amounts, and a reversal, which
    does, reads them from that event (``opened``). Kept out of the projection so a person-year's
    row, rewritten on every claim, grows by a few bytes a settlement instead of a kilobyte."""

    setl_id: str
    fixmedins_code: str  # who may reverse it and read it (settlement.entrypoints.http)
    reversed_by: str | None = None


Settlement = OpenSettlement | SettlementNote
StoredEntry = Mapping[str, Any]  # one settlement as the stored projection holds it (engine.snapshot)


class Settlements(Mapping[str, Settlement]):
    """A person-year's settlements read from a stored projection, each decoded only when it is
    read. A claim reads none of the year's earlier settlements, so a person with many settlements
    in a year is not decoded and encoded whole on every claim: an entry never read goes back into
    the next projection as it was stored (``to_json``). Iterating and comparing behave as for a
    dict built in the same order ({**stored, **added})."""

    __slots__ = ("_decode", "_decoded", "_stored")

    def __init__(
        self,
        stored: Mapping[str, StoredEntry],
        decode: Callable[[str, StoredEntry], Settlement],
        decoded: Mapping[str, Settlement] = _EMPTY,
    ) -> None:
        self._stored, self._decode = stored, decode
        self._decoded: dict[str, Settlement] = dict(decoded)  # read or added since the projection

    def __getitem__(self, setl_id: str) -> Settlement:
        found = self._decoded.get(setl_id)
        if found is None:
            found = self._decoded[setl_id] = self._decode(setl_id, self._stored[setl_id])
        return found

    def __iter__(self) -> Iterator[str]:
        yield from self._stored
        yield from (setl_id for setl_id in self._decoded if setl_id not in self._stored)

    def __len__(self) -> int:
        return len(self._stored) + sum(1 for setl_id in self._decoded if setl_id not in self._stored)

    def __contains__(self, setl_id: object) -> bool:
        return setl_id in self._decoded or setl_id in self._stored

    def with_entry(self, setl_id: str, settlement: Settlement) -> Settlements:
        return Settlements(self._stored, self._decode, {**self._decoded, setl_id: settlement})

    def to_json(self, encode: Callable[[Settlement], StoredEntry]) -> dict[str, StoredEntry]:
        """Every entry as the next projection holds it: as stored where nobody read or replaced
        it, ``encode``d where someone did (same order as iterating)."""
        entries = dict(self._stored)
        entries.update((setl_id, encode(settlement)) for setl_id, settlement in self._decoded.items())
        return entries


@dataclass(frozen=True)
class PersonYear:
    psn_no: str
    year: int
    enrolment: EnrolmentFacts | None = None
    coverage_from: date | None = None
    coverage_reason: str = ""
    totals: Totals = ZERO
    settlements: Mapping[str, Settlement] = field(default_factory=lambda: _EMPTY)
    visits: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # mdtrt_id → setl_id in force
    credited_months: frozenset[int] = frozenset()
    family_debits: Mapping[str, int] = field(default_factory=lambda: _EMPTY)  # setl_id → amount
    version: int = 0  # events folded so far
    policies: tuple[PolicyStamp, ...] = ()  # the policies that priced its settlements, in _sorted_stamps order

    @property
    def stream_id(self) -> str:
        return stream_id(self.psn_no, self.year)

    @property
    def has_account(self) -> bool:
        return self.enrolment is not None and self.enrolment.insutype is Insutype.STAFF

    @property
    def account_balance(self) -> int:
        """Own personal account: carried over + credited − spent (own care and relatives')."""
        opening = self.enrolment.acct_opening_balance if self.enrolment else 0
        t = self.totals
        return opening + t.acct_credited - t.acct_paid_own - t.acct_paid_for_family


def opened(state: PersonYear, settlement: OpenSettlement) -> PersonYear:
    """``state`` holding ``settlement`` with its amounts (read from its ClaimSettled event) where
    its projection kept a note of it: what a reversal needs. No event is folded, so the version
    stays; the note must be of this very settlement (same institution, same reversal)."""
    note = state.settlements.get(settlement.setl_id)
    if note is None or (note.fixmedins_code, note.reversed_by) != (settlement.fixmedins_code, settlement.reversed_by):
        raise InvariantBroken(f"{state.stream_id}: settlement {settlement.setl_id} does not match its event")
    made = PersonYear.__new__(PersonYear)
    made.__dict__.update(state.__dict__, settlements=_with(state.settlements, settlement.setl_id, settlement))
    return made


def _with_stamp(stamps: tuple[PolicyStamp, ...], stamp: PolicyStamp) -> tuple[PolicyStamp, ...]:
    return stamps if stamp in stamps else _sorted_stamps((*stamps, stamp))


def _sorted_stamps(stamps: Iterable[PolicyStamp]) -> tuple[PolicyStamp, ...]:
    """Policy stamps in one order that needs no history: by id, version, content. A projection
    stored by schema 3 code lists its settlements in key order, not the order they were settled
    in, so "first used first" could not be rebuilt from it; a replay and an upcast agree on this."""
    return tuple(sorted(stamps, key=lambda s: (s.policy_id, s.version, s.content_hash)))


def stream_id(psn_no: str, year: int) -> str:
    return f"{psn_no}/{year}"


def _with(mapping: Mapping[str, Any], key: str, value: Any) -> Mapping[str, Any]:
    if isinstance(mapping, Settlements):  # {**mapping} would decode every stored settlement
        return mapping.with_entry(key, value)
    return MappingProxyType({**mapping, key: value})


def _without(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return MappingProxyType({k: v for k, v in mapping.items() if k != key})


def _changed(state: PersonYear, **changes: Any) -> PersonYear:
    """``state`` with some fields replaced and the version counted up: what dataclasses.replace
    gives, without re-running __init__ over eleven fields (once per event of every fold)."""
    made = PersonYear.__new__(PersonYear)
    made.__dict__.update(state.__dict__, version=state.version + 1, **changes)
    return made


Folded = Event | OpenSettlement
"""What the fold takes: an event, or a settlement as the OpenSettlement its ClaimSettled opens —
all the fold reads of one (engine.records.fold_view reads only that much of a stored one)."""


def apply(state: PersonYear, event: Folded) -> PersonYear:
    """One event onto a person's year. Asserts the books' invariants after it."""
    if isinstance(event, ClaimSettled):  # first: most events of a year are settlements
        event = OpenSettlement.of(event)
    if isinstance(event, OpenSettlement):
        if event.reversed_by is not None:
            raise InvariantBroken(f"settlement {event.setl_id} opened as already reversed")
        new = _changed(
            state,
            totals=state.totals + event.delta,
            settlements=_with(state.settlements, event.setl_id, event),
            visits=_with(state.visits, event.mdtrt_id, event.setl_id),
            policies=_with_stamp(state.policies, event.policy),
        )
    elif isinstance(event, PersonEnrolled):
        new = _changed(
            state, enrolment=event.enrolment, coverage_from=event.coverage_from, coverage_reason=event.coverage_reason
        )
    elif isinstance(event, AccountCredited):
        new = _changed(state, totals=state.totals + event.delta, credited_months=state.credited_months | {event.month})
    elif isinstance(event, SettlementReversed):
        original = state.settlements.get(event.reversed_setl_id)
        if original is None or original.reversed_by is not None:
            raise InvariantBroken(f"reversal {event.setl_id} of a settlement not in force: {event.reversed_setl_id}")
        if not isinstance(original, OpenSettlement):  # the caller read a projection and not the event
            raise InvariantBroken(f"reversal {event.setl_id} folded without the amounts of {original.setl_id}")
        if event.delta != -original.delta:
            raise InvariantBroken(f"reversal {event.setl_id} does not net the original to zero")
        new = _changed(
            state,
            totals=state.totals + event.delta,
            settlements=_with(state.settlements, original.setl_id, replace(original, reversed_by=event.setl_id)),
            visits=_without(state.visits, original.mdtrt_id),
        )
    elif isinstance(event, FamilyAccountDebited):
        new = _changed(
            state,
            totals=state.totals + event.delta,
            family_debits=_with(state.family_debits, event.setl_id, event.amount),
        )
    elif isinstance(event, FamilyAccountRefunded):
        if state.family_debits.get(event.reversed_setl_id) != event.amount:
            raise InvariantBroken(f"refund {event.setl_id} does not match a family debit")
        new = _changed(
            state,
            totals=state.totals + event.delta,
            family_debits=_without(state.family_debits, event.reversed_setl_id),
        )
    else:  # pragma: no cover - the union is closed
        raise InvariantBroken(f"unknown event {event!r}")
    _check(new)
    return new


def _check(state: PersonYear) -> None:
    totals = state.totals
    if totals.has_negative():
        negative = {k: v for k, v in totals.figures().items() if v < 0}
        raise InvariantBroken(f"{state.stream_id}: totals below zero {negative}")
    if state.account_balance < 0:
        raise InvariantBroken(f"{state.stream_id}: personal account overdrawn ({state.account_balance} fen)")
    if totals.mi_paid > totals.mi_base or totals.aid_paid > totals.aid_base:
        raise InvariantBroken(f"{state.stream_id}: a fund paid more than the self-pay it works on")


def replay(psn_no: str, year: int, events: Iterable[Folded]) -> PersonYear:
    """The fold: a person's year from nothing but its events."""
    state = PersonYear(psn_no=psn_no, year=year)
    for event in events:
        state = apply(state, event)
    return state
