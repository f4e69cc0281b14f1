"""A person's year as JSON, for the inline projection the settlement service reads in one query.

The events are the record; this is a cache of their fold, rebuilt and compared by ``ledger verify``.
"""

from __future__ import annotations

from datetime import date
from types import MappingProxyType
from typing import Any

from contracts.enrolments import Enrolment
from engine.person import OpenSettlement, PersonYear
from engine.totals import Totals


def to_json(state: PersonYear) -> dict[str, Any]:
    return {
        "psn_no": state.psn_no,
        "year": state.year,
        "version": state.version,
        "enrolment": state.enrolment.model_dump(mode="json") if state.enrolment else None,
        "coverage_from": state.coverage_from.isoformat() if state.coverage_from else None,
        "coverage_reason": state.coverage_reason,
        "totals": state.totals.nonzero(),
        "settlements": {
            key: {
                "mdtrt_id": s.mdtrt_id,
                "delta": s.delta.nonzero(),
                "payer_psn_no": s.payer_psn_no,
                "acct_mulaid_pay": s.acct_mulaid_pay,
                "result": dict(s.result),
                "reversed_by": s.reversed_by,
            }
            for key, s in state.settlements.items()
        },
        "visits": dict(state.visits),
        "credited_months": sorted(state.credited_months),
        "family_debits": dict(state.family_debits),
    }


def from_json(data: dict[str, Any]) -> PersonYear:
    settlements = {
        key: OpenSettlement(
            setl_id=key,
            mdtrt_id=s["mdtrt_id"],
            delta=Totals.from_json(s["delta"]),
            payer_psn_no=s["payer_psn_no"],
            acct_mulaid_pay=s["acct_mulaid_pay"],
            result=s["result"],
            reversed_by=s["reversed_by"],
        )
        for key, s in data["settlements"].items()
    }
    return PersonYear(
        psn_no=data["psn_no"],
        year=data["year"],
        version=data["version"],
        enrolment=Enrolment.model_validate(data["enrolment"]) if data["enrolment"] else None,
        coverage_from=date.fromisoformat(data["coverage_from"]) if data["coverage_from"] else None,
        coverage_reason=data["coverage_reason"],
        totals=Totals.from_json(data["totals"]),
        settlements=MappingProxyType(settlements),
        visits=MappingProxyType(dict(data["visits"])),
        credited_months=frozenset(data["credited_months"]),
        family_debits=MappingProxyType(dict(data["family_debits"])),
    )
