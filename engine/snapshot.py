"""A person's year as JSON, for the inline projection the settlement service reads in one query.

The events are the record; this is a cache of their fold, rebuilt and compared by ``ledger
verify`` (ledger.domain.rebuild writes it with this same ``to_json``). Its shape has a
``schema_version`` like the events': a projection stored by older code is upcast when read
(version 1, without the key: the enrolment and each settlement's answer as wire messages;
versions 2 and 3: each settlement's amounts, funds, delta and policy, about a kilobyte a
settlement, which version 4 leaves in the settlement's event and keeps a note of instead —
engine.person.SettlementNote, docs/ledger.md "The inline projection").
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from contracts.money import parse_yuan
from engine.codec import day, enrolment_from_json, enrolment_to_json
from engine.codec_settlement import (
    stamp_from_json,
    stamp_to_json,
)
from engine.person import PersonYear, Settlement, SettlementNote, Settlements
from engine.totals import Totals
from engine.upcasters import amounts_v1, enrolment_v1_to_facts, enrolment_v2_to_v3

SNAPSHOT_VERSION = 4


def _note_to_json(s: Settlement) -> dict[str, Any]:
    return {"fixmedins_code": s.fixmedins_code, "reversed_by": s.reversed_by}


def _settlements_to_json(settlements: Mapping[str, Settlement]) -> dict[str, Any]:
    if isinstance(settlements, Settlements):  # what was never read goes back as it was stored
        return settlements.to_json(_note_to_json)
    return {key: _note_to_json(s) for key, s in settlements.items()}


def to_json(state: PersonYear) -> dict[str, Any]:
    return {
        "schema_version": SNAPSHOT_VERSION,
        "psn_no": state.psn_no,
        "year": state.year,
        "version": state.version,
        "enrolment": enrolment_to_json(state.enrolment) if state.enrolment else None,
        "coverage_from": state.coverage_from.isoformat() if state.coverage_from else None,
        "coverage_reason": state.coverage_reason,
        "totals": state.totals.to_json(),
        "settlements": _settlements_to_json(state.settlements),
        "visits": dict(state.visits),
        "credited_months": sorted(state.credited_months),
        "family_debits": dict(state.family_debits),
        "policies": [stamp_to_json(stamp) for stamp in state.policies],
    }


def _settlement_v1(entry: Mapping[str, Any]) -> dict[str, Any]:
    result = entry["result"]
    return {
        "mdtrt_id": entry["mdtrt_id"],
        "fixmedins_code": result["fixmedins_code"],
        "delta": entry["delta"],
        "payer_psn_no": entry["payer_psn_no"],
        "policy": dict(result["policy"]),
        "amounts": amounts_v1(result["setlinfo"]),
        "funds": {row["fund_pay_type"]: parse_yuan(row["fund_payamt"]) for row in result["setldetail"]},
        "reversed_by": entry["reversed_by"],
    }


def _v1_to_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    enrolment = data["enrolment"]
    return {
        **data,
        "schema_version": 2,
        "enrolment": enrolment_v1_to_facts(enrolment) if enrolment else None,
        "settlements": {key: _settlement_v1(s) for key, s in data["settlements"].items()},
    }


def _v2_to_v3(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version 3: the enrolment facts hold the person's out-of-region filings (none before)."""
    enrolment = data["enrolment"]
    return {**data, "schema_version": 3, "enrolment": enrolment_v2_to_v3(enrolment) if enrolment else None}


def _stamp_order(stamp: Mapping[str, Any]) -> tuple[Any, ...]:
    """engine.person's order of a year's policies, on their JSON."""
    return (stamp["policy_id"], stamp["version"], stamp["content_hash"])


def _v3_to_v4(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version 4: a note of each settlement (its amounts are in its event), and the policies that
    priced them, in the order engine.person keeps them (by id, version, content)."""
    policies: list[Any] = []
    for entry in data["settlements"].values():
        if entry["policy"] not in policies:
            policies.append(entry["policy"])
    policies.sort(key=_stamp_order)
    notes = {
        key: {"fixmedins_code": s["fixmedins_code"], "reversed_by": s["reversed_by"]}
        for key, s in data["settlements"].items()
    }
    return {**data, "schema_version": 4, "settlements": notes, "policies": policies}


def upcast(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored projection at the current shape (version 1 had no schema_version)."""
    version = data.get("schema_version", 1)
    if version not in (1, 2, 3, SNAPSHOT_VERSION):
        raise ValueError(f"a person-year projection of schema_version {version!r}; this code reads 1 to 4")
    shaped = dict(data)
    if version == 1:
        shaped = _v1_to_v2(shaped)
    if shaped["schema_version"] == 2:
        shaped = _v2_to_v3(shaped)
    if shaped["schema_version"] == 3:
        shaped = _v3_to_v4(shaped)
    else:  # written by schema-4 code before its policies were kept sorted (unreleased): sorted now
        shaped["policies"] = sorted(shaped["policies"], key=_stamp_order)
    return shaped


def _note_from_json(key: str, s: Mapping[str, Any]) -> SettlementNote:
    return SettlementNote(setl_id=key, fixmedins_code=s["fixmedins_code"], reversed_by=s["reversed_by"])


def from_json(stored: Mapping[str, Any]) -> PersonYear:
    data = upcast(stored)
    if stored.get("schema_version") == SNAPSHOT_VERSION:  # entries in today's shape: decoded when read
        settlements: Mapping[str, Settlement] = Settlements(data["settlements"], _note_from_json)
    else:  # upcast: decoded now, so the next projection writes every entry in today's shape
        settlements = MappingProxyType({key: _note_from_json(key, s) for key, s in data["settlements"].items()})
    return PersonYear(
        psn_no=data["psn_no"],
        year=data["year"],
        version=data["version"],
        enrolment=enrolment_from_json(data["enrolment"]) if data["enrolment"] else None,
        coverage_from=day(data["coverage_from"]) if data["coverage_from"] else None,
        coverage_reason=data["coverage_reason"],
        totals=Totals.from_json(data["totals"]),
        settlements=settlements,
        visits=MappingProxyType(dict(data["visits"])),
        credited_months=frozenset(data["credited_months"]),
        family_debits=MappingProxyType(dict(data["family_debits"])),
        policies=tuple(stamp_from_json(stamp) for stamp in data["policies"]),
    )
