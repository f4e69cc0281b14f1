"""Events to and from their record form (event_type, JSON data), one explicit codec per type.

Writing: the codec of the event's type, and ``schema_version`` = that type's current version.
Reading: the stored version (absent = 1, the shape before versions existed), the upcasters
of engine.upcasters applied one version at a time until current, then the codec. Anything
that does not fit raises ``UnreadableEvent`` naming the type, the version and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any

from engine.codec import Json, day, exact, fen, integer, text, visit_from_json, visit_to_json
from engine.codec import enrolment_from_json as enrolment_in
from engine.codec import enrolment_to_json as enrolment_out
from engine.codec_contribution import CONTRIBUTION_RECORDED, contribution_in, contribution_out
from engine.codec_settlement import (
    amounts_from_json,
    amounts_to_json,
    case_from_json,
    case_to_json,
    funds_from_json,
    funds_to_json,
    returned_from_json,
    returned_to_json,
    splits_from_json,
    splits_to_json,
    stamp_from_json,
    stamp_to_json,
    trail_from_json,
    trail_to_json,
)
from engine.codec_visit import VISIT_CODECS
from engine.contributions import ContributionRecorded
from engine.errors import UnreadableEvent
from engine.events import (
    AccountCredited,
    ClaimSettled,
    Event,
    FamilyAccountDebited,
    FamilyAccountRefunded,
    PersonEnrolled,
    SettlementReversed,
)
from engine.person import Folded, OpenSettlement
from engine.totals import Totals
from engine.upcasters import UPCASTERS
from engine.visit_events import VisitEvent

VERSION_KEY = "schema_version"


@dataclass(frozen=True)
class Codec:
    version: int  # the version this code writes
    fields: frozenset[str]  # the fields of that version (without schema_version)
    write: Callable[[Any], Json]
    read: Callable[[Mapping[str, Any]], Any]  # an Event (person-year) or a VisitEvent (visit stream)


def _claim_out(e: ClaimSettled) -> Json:
    return {
        "setl_id": e.setl_id,
        "request_key": e.request_key,
        "request_id": e.request_id,
        "year": e.year,
        "visit": visit_to_json(e.visit),
        "policy": stamp_to_json(e.policy),
        "amounts": amounts_to_json(e.amounts),
        "funds": funds_to_json(e.funds),
        "items": splits_to_json(e.items),
        "case": case_to_json(e.case),
        "trail": trail_to_json(e.trail),
        "payer_psn_no": e.payer_psn_no,
        "delta": e.delta.to_json(),
        "payer_policy": None if e.payer_policy is None else stamp_to_json(e.payer_policy),
    }


def _claim_in(d: Mapping[str, Any]) -> ClaimSettled:
    payer, payer_policy = d["payer_psn_no"], d["payer_policy"]
    return ClaimSettled(
        setl_id=text(d["setl_id"]),
        request_key=text(d["request_key"]),
        request_id=text(d["request_id"]),
        year=integer(d["year"]),
        visit=visit_from_json(d["visit"]),
        policy=stamp_from_json(d["policy"]),
        amounts=amounts_from_json(d["amounts"]),
        funds=funds_from_json(d["funds"]),
        items=splits_from_json(d["items"]),
        case=case_from_json(d["case"]),
        trail=trail_from_json(d["trail"]),
        payer_psn_no=None if payer is None else text(payer),
        delta=Totals.from_json(d["delta"]),
        payer_policy=None if payer_policy is None else stamp_from_json(payer_policy),
    )


def _reversal_out(e: SettlementReversed) -> Json:
    return {
        "setl_id": e.setl_id,
        "reversed_setl_id": e.reversed_setl_id,
        "request_key": e.request_key,
        "request_id": e.request_id,
        "psn_no": e.psn_no,
        "year": e.year,
        "fixmedins_code": e.fixmedins_code,
        "policy": stamp_to_json(e.policy),
        "amounts": amounts_to_json(e.amounts),
        "funds": returned_to_json(e.funds),
        "delta": e.delta.to_json(),
    }


def _reversal_in(d: Mapping[str, Any]) -> SettlementReversed:
    return SettlementReversed(
        setl_id=text(d["setl_id"]),
        reversed_setl_id=text(d["reversed_setl_id"]),
        request_key=text(d["request_key"]),
        request_id=text(d["request_id"]),
        psn_no=text(d["psn_no"]),
        year=integer(d["year"]),
        fixmedins_code=text(d["fixmedins_code"]),
        policy=stamp_from_json(d["policy"]),
        amounts=amounts_from_json(d["amounts"]),
        funds=returned_from_json(d["funds"]),
        delta=Totals.from_json(d["delta"]),
    )


def _enrolled_out(e: PersonEnrolled) -> Json:
    return {
        "enrolment": enrolment_out(e.enrolment),
        "coverage_from": e.coverage_from.isoformat(),
        "coverage_reason": e.coverage_reason,
    }


def _enrolled_in(d: Mapping[str, Any]) -> PersonEnrolled:
    return PersonEnrolled(enrolment_in(d["enrolment"]), day(d["coverage_from"]), text(d["coverage_reason"]))


def _credited_out(e: AccountCredited) -> Json:
    return {"month": e.month, "amount": e.amount, "delta": e.delta.to_json()}


def _credited_in(d: Mapping[str, Any]) -> AccountCredited:
    return AccountCredited(integer(d["month"]), fen(d["amount"]), Totals.from_json(d["delta"]))


def _debited_out(e: FamilyAccountDebited) -> Json:
    return {
        "setl_id": e.setl_id,
        "beneficiary_psn_no": e.beneficiary_psn_no,
        "amount": e.amount,
        "delta": e.delta.to_json(),
    }


def _debited_in(d: Mapping[str, Any]) -> FamilyAccountDebited:
    return FamilyAccountDebited(
        text(d["setl_id"]), text(d["beneficiary_psn_no"]), fen(d["amount"]), Totals.from_json(d["delta"])
    )


def _refunded_out(e: FamilyAccountRefunded) -> Json:
    return {
        "setl_id": e.setl_id,
        "reversed_setl_id": e.reversed_setl_id,
        "amount": e.amount,
        "delta": e.delta.to_json(),
    }


def _refunded_in(d: Mapping[str, Any]) -> FamilyAccountRefunded:
    return FamilyAccountRefunded(
        text(d["setl_id"]), text(d["reversed_setl_id"]), fen(d["amount"]), Totals.from_json(d["delta"])
    )


CLAIM_SETTLED = frozenset(
    {"setl_id", "request_key", "request_id", "year", "visit", "policy", "amounts", "funds", "items"}
    | {"case", "trail", "payer_psn_no", "delta", "payer_policy"}
)
SETTLEMENT_REVERSED = frozenset(
    {"setl_id", "reversed_setl_id", "request_key", "request_id", "psn_no", "year", "fixmedins_code", "policy"}
    | {"amounts", "funds", "delta"}
)
CODECS: Mapping[type[Any], tuple[str, Codec]] = {
    PersonEnrolled: (
        "PersonEnrolled",
        Codec(3, frozenset({"enrolment", "coverage_from", "coverage_reason"}), _enrolled_out, _enrolled_in),
    ),
    AccountCredited: (
        "AccountCredited",
        Codec(2, frozenset({"month", "amount", "delta"}), _credited_out, _credited_in),
    ),
    ClaimSettled: ("ClaimSettled", Codec(5, CLAIM_SETTLED, _claim_out, _claim_in)),
    FamilyAccountDebited: (
        "FamilyAccountDebited",
        Codec(2, frozenset({"setl_id", "beneficiary_psn_no", "amount", "delta"}), _debited_out, _debited_in),
    ),
    SettlementReversed: ("SettlementReversed", Codec(2, SETTLEMENT_REVERSED, _reversal_out, _reversal_in)),
    FamilyAccountRefunded: (
        "FamilyAccountRefunded",
        Codec(2, frozenset({"setl_id", "reversed_setl_id", "amount", "delta"}), _refunded_out, _refunded_in),
    ),
    # a stream of its own (contrib/<psn_no>/<year>), version 1 from the start (ADR 0004)
    ContributionRecorded: (
        "ContributionRecorded",
        Codec(1, CONTRIBUTION_RECORDED, contribution_out, contribution_in),
    ),
}
# The visit stream's events (engine.visit_events), all at version 1.
VISIT_EVENT_CODECS: Mapping[type[Any], tuple[str, Codec]] = {
    kind: (name, Codec(1, names, write, read)) for kind, (name, names, write, read) in VISIT_CODECS.items()
}
PERSON_EVENT_TYPES = frozenset(name for name, _ in CODECS.values())
BY_NAME: Mapping[str, Codec] = {name: codec for name, codec in (*CODECS.values(), *VISIT_EVENT_CODECS.values())}
CURRENT_VERSIONS: Mapping[str, int] = {name: codec.version for name, codec in BY_NAME.items()}


def to_record(event: Event | VisitEvent) -> tuple[str, Json]:
    name, codec = CODECS.get(type(event)) or VISIT_EVENT_CODECS[type(event)]
    return name, {**codec.write(event), VERSION_KEY: codec.version}


def stored_version(event_type: str, data: Mapping[str, Any]) -> int:
    """The schema version an event was written with: absent means 1 (before versions existed)."""
    version = data.get(VERSION_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UnreadableEvent(event_type, version, f"{VERSION_KEY} must be a positive integer")
    return version


def upcast(event_type: str, data: Mapping[str, Any]) -> Json:
    """The data at the current version of its type (old versions upgraded, never rewritten)."""
    codec = BY_NAME.get(event_type)
    if codec is None:
        raise UnreadableEvent(event_type, data.get(VERSION_KEY, 1), "unknown event type")
    current: Json = dict(data)
    version = stored_version(event_type, current)
    while version < codec.version:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UnreadableEvent(event_type, version, "no upcaster from this version")
        try:
            current = step(current)
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as error:
            raise UnreadableEvent(event_type, version, f"does not fit its schema: {error!r}") from None
        version = stored_version(event_type, current)
    if version > codec.version:
        raise UnreadableEvent(event_type, version, f"newer than this code, which reads up to {codec.version}")
    return current


def from_record(event_type: str, data: Mapping[str, Any]) -> Event:
    """A person-year event; a visit-stream event here is unreadable (it belongs to another stream)."""
    if event_type in BY_NAME and event_type not in PERSON_EVENT_TYPES:
        raise UnreadableEvent(event_type, data.get(VERSION_KEY, 1), "a visit-stream event, not a person-year one")
    event: Event = _read(event_type, data)
    return event


def visit_event_from_record(event_type: str, data: Mapping[str, Any]) -> VisitEvent:
    """A visit-stream event; a person-year event here is unreadable."""
    if event_type in PERSON_EVENT_TYPES:
        raise UnreadableEvent(event_type, data.get(VERSION_KEY, 1), "a person-year event, not a visit-stream one")
    event: VisitEvent = _read(event_type, data)
    return event


def fold_view(event_type: str, data: Mapping[str, Any]) -> Folded:
    """What the person-year fold reads of a stored event (engine.person.apply takes either): a
    ClaimSettled as the OpenSettlement it opens — its fields checked as from_record checks them,
    its upcasting the same, but the visit beyond its two ids, the items, the case and the trail
    (priced detail the totals never read) not built. Every other event as from_record reads it.
    Raises UnreadableEvent where the fold cannot read the event."""
    if event_type != "ClaimSettled":
        return from_record(event_type, data)
    view: OpenSettlement = _read(event_type, data, _settlement_in)
    return view


def _settlement_in(d: Mapping[str, Any]) -> OpenSettlement:
    """Of a ClaimSettled's data, what OpenSettlement.of takes from the event _claim_in makes."""
    visit, payer = d["visit"], d["payer_psn_no"]
    return OpenSettlement(
        setl_id=text(d["setl_id"]),
        mdtrt_id=text(visit["mdtrt_id"]),
        fixmedins_code=text(visit["fixmedins_code"]),
        delta=Totals.from_json(d["delta"]),
        payer_psn_no=None if payer is None else text(payer),
        policy=stamp_from_json(d["policy"]),
        amounts=amounts_from_json(d["amounts"]),
        funds=tuple((row.fund_pay_type, row.fund_payamt) for row in funds_from_json(d["funds"])),
    )


def _read(event_type: str, data: Mapping[str, Any], reader: Callable[[Mapping[str, Any]], Any] | None = None) -> Any:
    """The codec's reader (or ``reader``) over the data at its current version, its fields exact."""
    codec = BY_NAME.get(event_type)
    version = data.get(VERSION_KEY, 1) if codec is not None and type(data) is dict else None
    if codec is not None and type(version) is int and version == codec.version:
        current = data  # already current (nearly every event): upcast would only copy it
    else:
        current = upcast(event_type, data)
        codec = BY_NAME[event_type]
    try:
        body = exact({k: v for k, v in current.items() if k != VERSION_KEY}, codec.fields)
        return (reader or codec.read)(body)
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as error:
        version = current.get(VERSION_KEY)
        raise UnreadableEvent(event_type, version, f"does not fit its schema: {error!r}") from None
