"""The ledger's events: each one *is* a change to a person's year (one stream per person-year).

An event becomes (event_type, JSON data) for the store and back; money inside is int fen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts.enrolments import Enrolment
from engine.totals import Totals


@dataclass(frozen=True)
class PersonEnrolled:
    """The enrolment facts for the year (a later one replaces them)."""

    enrolment: Enrolment
    coverage_from: date
    coverage_reason: str


@dataclass(frozen=True)
class AccountCredited:
    month: int
    amount: int
    delta: Totals


@dataclass(frozen=True)
class ClaimSettled:
    setl_id: str
    request_key: str
    mdtrt_id: str
    fixmedins_code: str
    payer_psn_no: str | None  # a relative whose account paid acct_mulaid_pay
    acct_mulaid_pay: int
    delta: Totals
    result: dict[str, Any]  # the settlements.v1 message as sent (JSON form)
    claim: dict[str, Any]  # the claim as validated (JSON form): what an audit re-prices


@dataclass(frozen=True)
class FamilyAccountDebited:
    """Recorded in the *payer's* stream: their account paid for a relative (家庭共济)."""

    setl_id: str
    beneficiary_psn_no: str
    amount: int
    delta: Totals


@dataclass(frozen=True)
class SettlementReversed:
    setl_id: str  # the reversal's own id
    reversed_setl_id: str
    request_key: str
    delta: Totals  # the negated delta of the reversed settlement
    result: dict[str, Any]
    fixmedins_code: str = ""  # who settled (and now reverses): the clearing projections need it
    funds: dict[str, int] | None = None  # fund_pay_type → the negated fund_payamt of the original


@dataclass(frozen=True)
class FamilyAccountRefunded:
    setl_id: str
    reversed_setl_id: str
    amount: int
    delta: Totals


Event = (
    PersonEnrolled | AccountCredited | ClaimSettled | FamilyAccountDebited | SettlementReversed | FamilyAccountRefunded
)
EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        PersonEnrolled,
        AccountCredited,
        ClaimSettled,
        FamilyAccountDebited,
        SettlementReversed,
        FamilyAccountRefunded,
    )
}


def to_record(event: Event) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {}
    for name, value in vars(event).items():
        if isinstance(value, Totals):
            data[name] = value.nonzero()
        elif isinstance(value, Enrolment):
            data[name] = value.model_dump(mode="json")
        elif isinstance(value, date):
            data[name] = value.isoformat()
        else:
            data[name] = value
    return type(event).__name__, data


def from_record(event_type: str, data: dict[str, Any]) -> Event:
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise ValueError(f"unknown event type {event_type!r}")
    fields: dict[str, Any] = dict(data)
    if "delta" in fields:
        fields["delta"] = Totals.from_json(fields["delta"])
    if cls is PersonEnrolled:
        fields["enrolment"] = Enrolment.model_validate(fields["enrolment"])
        fields["coverage_from"] = date.fromisoformat(fields["coverage_from"])
    event: Event = cls(**fields)
    return event
